"""One small error hierarchy, so callers can catch what they can fix.

Every message names the field, endpoint or file at fault and says how to fix it.
"""

from __future__ import annotations


class MetaSynthError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(MetaSynthError, ValueError):
    """A configuration value is wrong; raised before any model call."""


class EndpointError(MetaSynthError):
    """An inference endpoint failed beyond the retry budget, or refused the request."""

    def __init__(self, message: str, *, endpoint: str | None = None, status: int | None = None):
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status


class ContextLengthError(EndpointError):
    """A prompt that does not fit the served model's context, even with a shorter reply."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        limit: int | None = None,
        prompt_tokens: int | None = None,
    ):
        super().__init__(message, endpoint=endpoint, status=status)
        self.limit = limit
        self.prompt_tokens = prompt_tokens


class ParseError(MetaSynthError, ValueError):
    """A model reply could not be parsed into the structure asked for."""

    def __init__(self, message: str, *, raw: str = ""):
        super().__init__(message)
        self.raw = raw


class CacheError(MetaSynthError):
    """The response cache file is corrupt, foreign or unwritable."""


class MissingDependencyError(MetaSynthError, ImportError):
    """An optional dependency is absent; the message names the extra that installs it."""


def missing_dependency(package: str, extra: str) -> MissingDependencyError:
    """The ImportError to raise when an optional dependency is absent."""
    return MissingDependencyError(f"{package} is required for this feature: pip install 'metasynth-hf[{extra}]'")
