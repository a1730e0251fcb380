"""The domain registry: shipped domains (package data) and custom ones.

A domain is a name, a description the conductor reads, persona hints for the Domain Expert
and a keyword file (one keyword or keyphrase per line; `#` comments and blank lines are
ignored). Shipped domains live in `metasynth_hf/data/domains.yaml`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from metasynth_hf.errors import ConfigError
from metasynth_hf.seeds.types import normalise_keyword

logger = logging.getLogger(__name__)

_DATA_DIR = Path(str(files("metasynth_hf").joinpath("data")))
_REGISTRY = _DATA_DIR / "domains.yaml"

CUSTOM_DOMAIN_HINT = (
    "for a custom domain give a name, a description and a keyword file, e.g. "
    "metasynth_hf.seeds.custom_domain('law', 'Contract and case law', 'law_keywords.txt') "
    "or in the run config: domain: {name: law, description: ..., keywords: law_keywords.txt}"
)


@dataclass(frozen=True)
class Domain:
    """A domain to generate documents for, with its keyword list (read once, validated)."""

    name: str
    description: str
    keywords: tuple[str, ...]
    persona_hints: tuple[str, ...] = ()
    keyword_file: Path | None = None


def read_keywords(path: str | Path) -> tuple[str, ...]:
    """Keywords of a file, one per line, first spelling kept, duplicates dropped (case-free)."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"keyword file {path} does not exist; give an existing file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"keyword file {path} cannot be read ({exc}); give a readable UTF-8 text file with one keyword per line"
        ) from exc
    seen: set[str] = set()
    keywords: list[str] = []
    for line in text.splitlines():
        keyword = " ".join(line.split())
        key = normalise_keyword(keyword)
        if not key or keyword.startswith("#") or key in seen:
            continue
        seen.add(key)
        keywords.append(keyword)
    if not keywords:
        raise ConfigError(
            f"keyword file {path} holds no keywords; write one keyword or keyphrase per line "
            "(lines starting with '#' are comments)"
        )
    return tuple(keywords)


@cache
def _registry() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(_REGISTRY.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{_REGISTRY} must map domain names to entries; reinstall metasynth-hf")
    return data


def known_domains() -> tuple[str, ...]:
    """Names of the shipped domains, sorted."""
    return tuple(sorted(_registry()))


def load_domain(name: str) -> Domain:
    """A shipped domain by name; an unknown name lists the known ones and the custom route."""
    entry = _registry().get(name)
    if entry is None:
        raise ConfigError(
            f"domain: unknown domain {name!r}; known domains: {', '.join(known_domains())}; " + CUSTOM_DOMAIN_HINT
        )
    path = _DATA_DIR / entry["keywords"]
    return Domain(
        name=name,
        description=" ".join(str(entry["description"]).split()),
        keywords=read_keywords(path),
        persona_hints=tuple(entry.get("persona_hints", ())),
        keyword_file=path,
    )


def custom_domain(
    name: str,
    description: str,
    keyword_file: str | Path,
    persona_hints: tuple[str, ...] | list[str] = (),
) -> Domain:
    """A user domain; the keyword file is read and checked now, before any model call."""
    if not name.strip():
        raise ConfigError("domain.name: a custom domain needs a non-empty name")
    if not description.strip():
        raise ConfigError(
            f"domain.description: custom domain {name!r} needs a description; the conductor "
            "reads it to know what the documents are about"
        )
    path = Path(keyword_file).expanduser()
    return Domain(
        name=name.strip(),
        description=" ".join(description.split()),
        keywords=read_keywords(path),
        persona_hints=tuple(persona_hints),
        keyword_file=path,
    )


def resolve_domain(domain: Domain | str | Path | dict[str, Any]) -> Domain:
    """A Domain from a Domain, a shipped name, a keyword file path or a config mapping."""
    if isinstance(domain, Domain):
        return domain
    if isinstance(domain, dict):
        unknown = sorted(set(domain) - {"name", "description", "keywords", "persona_hints"})
        if unknown:
            raise ConfigError(f"domain: unknown field(s) {unknown}; " + CUSTOM_DOMAIN_HINT)
        missing = [f for f in ("name", "description", "keywords") if not domain.get(f)]
        if missing:
            raise ConfigError(f"domain: missing field(s) {missing}; " + CUSTOM_DOMAIN_HINT)
        return custom_domain(
            domain["name"],
            domain["description"],
            domain["keywords"],
            tuple(domain.get("persona_hints", ())),
        )
    looks_like_file = isinstance(domain, str) and (
        Path(domain).suffix or "/" in domain or Path(domain).expanduser().is_file()
    )
    if isinstance(domain, Path) or (looks_like_file and domain not in _registry()):
        # A bare keyword file: name it after the file; the description is a placeholder
        # the conductor can still use. Prefer custom_domain() to describe the domain.
        path = Path(domain)
        return custom_domain(path.stem, f"Documents about {path.stem.replace('_', ' ')}.", path)
    return load_domain(domain)
