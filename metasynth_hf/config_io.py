"""Load typed configs from YAML plus CLI overrides, with errors that name the field.

YAML keys equal model fields; `--set a.b=value` style overrides win over YAML.
Validation happens here, before any model is loaded or called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from metasynth_hf.errors import ConfigError


class StrictConfig(BaseModel):
    """The one base of every config section: an unknown key is an error (a typo never passes
    silently), and a validated config cannot change under the run that fingerprinted it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


T = TypeVar("T", bound=BaseModel)


def format_validation_error(exc: ValidationError, *, source: str = "config") -> str:
    """One line per problem: `field.path: what is wrong (got value)`."""
    lines = [f"invalid {source}:"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"  {where}: unknown field; remove it or check its spelling")
            continue
        got = err.get("input")
        shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
        lines.append(f"  {where}: {err['msg']} (got {shown})")
    return "\n".join(lines)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file or a non-mapping is a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; pass an existing YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of fields, got {type(data).__name__}")
    return data


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.c` in a nested dict, creating levels as needed."""
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{dotted}: {key} is not a mapping, cannot set a field inside it")
    node[keys[-1]] = value


def parse_override(item: str) -> tuple[str, Any]:
    """`key=value` with the value parsed as YAML (so numbers, lists and bools work)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like field=value, e.g. num_docs=8")
    key, raw = item.split("=", 1)
    return key.strip(), yaml.safe_load(raw) if raw else ""


def load_config(
    cls: type[T],
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> T:
    """Build `cls` from an optional YAML file and dotted overrides, or raise ConfigError."""
    data: dict[str, Any] = read_yaml(path) if path else {}
    for key, value in (overrides or {}).items():
        if value is not None:
            set_dotted(data, key, value)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source=str(path or "config"))) from exc
