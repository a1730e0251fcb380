"""metasynth-hf: MetaSynth synthetic corpora on the Hugging Face stack."""

from metasynth_hf.errors import (
    CacheError,
    ConfigError,
    EndpointError,
    MetaSynthError,
    ParseError,
)

__version__ = "0.1.0"

__all__ = [
    "CacheError",
    "ConfigError",
    "EndpointError",
    "MetaSynthError",
    "ParseError",
    "__version__",
]
