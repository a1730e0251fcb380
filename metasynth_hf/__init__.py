"""metasynth-hf: MetaSynth synthetic corpora on the Hugging Face stack."""

from metasynth_hf.errors import (
    CacheError,
    ConfigError,
    EndpointError,
    MetaSynthError,
    ParseError,
)

__version__ = "0.1.0"


def __getattr__(name: str):
    # Heavy imports (datasets) only when asked for.
    if name == "MetaSynthBuilder":
        from metasynth_hf.builder import MetaSynthBuilder

        return MetaSynthBuilder
    if name == "MetaSynthConfig":
        from metasynth_hf.builder import MetaSynthConfig

        return MetaSynthConfig
    if name == "load_dataset":
        from metasynth_hf.loading import load_dataset

        return load_dataset
    raise AttributeError(f"module 'metasynth_hf' has no attribute {name!r}")


__all__ = [
    "CacheError",
    "ConfigError",
    "EndpointError",
    "MetaSynthBuilder",
    "MetaSynthConfig",
    "MetaSynthError",
    "ParseError",
    "load_dataset",
    "__version__",
]
