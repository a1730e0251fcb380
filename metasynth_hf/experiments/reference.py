"""Real text for the comparison: the user's files, folder or Hub dataset, or a function.

`reference.source` (and `general`) is either a corpus `corpus.load.load_corpus` reads (files,
a folder, a Hub id with a text column) or `path/to/file.py:function`, a function returning rows
of {id, text, topic} (recipes/experiments/standin_text.py makes stand-in text from what ships
with Python, for machines with no Hub access). The domain text is shuffled once with the
experiment seed and cut into disjoint parts: a seed pool (topic-aware seeds and the in-context
exemplars), the MAUVE/Vendi reference, and held-out perplexity text.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from metasynth_hf.errors import ConfigError
from metasynth_hf.experiments.config import ReferenceConfig

logger = logging.getLogger(__name__)

#: `file.py:function`: rows from a function in a Python file.
_FUNCTION_SPEC = re.compile(r"^(?P<path>.+\.py):(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")


@dataclass(frozen=True)
class RealText:
    """The parts of the real text, each a list of {id, text, topic} rows, and where they live."""

    seeds: list[dict]
    reference: list[dict]
    heldout: list[dict]
    general: list[dict]
    files: dict[str, str]
    description: str


def rows_function(spec: str) -> Callable[[], list[dict]]:
    """The function named by `path/to/file.py:function` (imported from that file)."""
    match = _FUNCTION_SPEC.match(spec)
    if match is None:
        raise ConfigError(f"reference source {spec!r} is not of the form path/to/file.py:function")
    path = Path(match["path"]).expanduser()
    if not path.is_file():
        raise ConfigError(f"reference source {spec!r}: {path} does not exist (paths are relative to the working dir)")
    module_name = f"metasynth_reference_{path.stem}"
    module = sys.modules.get(module_name)
    if module is None or getattr(module, "__file__", None) != str(path.resolve()):
        loader_spec = importlib.util.spec_from_file_location(module_name, path.resolve())
        assert loader_spec is not None and loader_spec.loader is not None  # a .py file
        module = importlib.util.module_from_spec(loader_spec)
        loader_spec.loader.exec_module(module)
        sys.modules[module_name] = module
    function = getattr(module, match["name"], None)
    if not callable(function):
        raise ConfigError(f"reference source {spec!r}: {path} defines no function {match['name']!r}")
    return function


def _load(spec: str, column: str) -> list[dict]:
    if _FUNCTION_SPEC.match(spec):
        rows = rows_function(spec)()
        return [
            {"id": str(r.get("id") or f"real-{i:06d}"), "text": r["text"], "topic": r.get("topic") or ""}
            for i, r in enumerate(rows)
            if (r.get("text") or "").strip()
        ]
    from metasynth_hf.corpus.load import load_corpus

    data = load_corpus(spec, column=column, what="reference source")
    texts = [t for t in data[column] if t and t.strip()]
    return [{"id": f"real-{i:06d}", "text": t, "topic": ""} for i, t in enumerate(texts)]


def _write(rows: list[dict], path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return str(path)


def _description(config: ReferenceConfig) -> str:
    if config.description:
        return config.description
    return f"domain: {config.source}; general: {config.general or 'none'}"


def prepare_real_text(config: ReferenceConfig, out_dir: Path, seed: int = 0) -> RealText:
    """Load, shuffle (seeded) and split the real text; write each part as JSONL under out_dir."""
    rows = _load(config.source, config.text_column)
    random.Random(seed).shuffle(rows)
    want: tuple[int, ...] = (config.seed_docs, config.reference_docs, config.heldout_docs)
    if len(rows) < 5:
        raise ConfigError(f"reference.source {config.source!r}: {len(rows)} documents; need 5+")
    if len(rows) < sum(want):
        scale = len(rows) / sum(want)
        want = tuple(max(2, int(w * scale)) for w in want)
        logger.warning("reference.source has %d documents; using %s parts", len(rows), want)
    a, b = want[0], want[0] + want[1]
    parts = {"seeds": rows[:a], "reference": rows[a:b], "heldout": rows[b : b + want[2]]}
    general: list[dict] = []
    if config.general:
        general = _load(config.general, config.text_column)
        random.Random(seed).shuffle(general)
        general = general[: config.general_docs]
    parts["general"] = general
    files = {k: _write(v, out_dir / f"{k}.jsonl") for k, v in parts.items() if v}
    return RealText(**parts, files=files, description=_description(config))
