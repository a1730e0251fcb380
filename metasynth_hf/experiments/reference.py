"""Real text for the comparison, from what ships on the machine or from the user's files.

There is no Hub access here, so the built-in sources are honest stand-ins, not the paper's
domain-filtered Common Crawl:

* `stdlib_docs`: docstrings of the Python standard library (English technical prose, grouped
  by area: files, networking, numbers, ...). It is the "domain" of the small experiment.
* `licenses`: paragraphs of the licence texts installed with Python packages (English legal
  prose), the "general", off-domain text that shows forgetting.

Anything else is loaded as files, a folder or a Hub id with a text column. The domain text is
shuffled once with the experiment seed and cut into disjoint parts: a seed pool (topic-aware
seeds and the in-context exemplars), the MAUVE/Vendi reference, and held-out perplexity text.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import random
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from metasynth_hf.errors import ConfigError
from metasynth_hf.experiments.config import ReferenceConfig

logger = logging.getLogger(__name__)

#: area -> stdlib modules; areas become the documents' `topic`.
STDLIB_AREAS: dict[str, tuple[str, ...]] = {
    "numbers": ("math", "statistics", "decimal", "fractions", "random", "numbers"),
    "files": ("os", "shutil", "pathlib", "tempfile", "glob", "zipfile", "tarfile", "io"),
    "network": (
        "smtplib",
        "http.client",
        "http.server",
        "urllib.request",
        "urllib.parse",
        "socket",
        "ftplib",
        "imaplib",
        "email.message",
        "ssl",
    ),
    "concurrency": (
        "threading",
        "asyncio.tasks",
        "asyncio.locks",
        "asyncio.queues",
        "concurrent.futures._base",
        "multiprocessing.pool",
        "queue",
        "subprocess",
    ),
    "time": ("datetime", "calendar", "time", "zoneinfo", "sched"),
    "text": ("re", "textwrap", "string", "difflib", "unicodedata", "locale", "gettext"),
    "formats": ("json", "csv", "xml.etree.ElementTree", "pickle", "configparser", "plistlib", "sqlite3", "base64"),
    "testing": ("unittest.case", "unittest.mock", "doctest", "unittest.loader", "pdb"),
    "language": (
        "inspect",
        "typing",
        "dataclasses",
        "functools",
        "itertools",
        "collections",
        "contextlib",
        "abc",
        "enum",
        "argparse",
        "logging",
    ),
}
MIN_CHARS, MAX_CHARS = 200, 2000


@dataclass(frozen=True)
class RealText:
    """The parts of the real text, each a list of {id, text, topic} rows, and where they live."""

    seeds: list[dict]
    reference: list[dict]
    heldout: list[dict]
    general: list[dict]
    files: dict[str, str]
    description: str


def _clean(doc: str) -> str:
    lines = [ln for ln in doc.splitlines() if not ln.lstrip().startswith((">>>", "..."))]
    return " ".join(" ".join(lines).split())


def module_docstrings(module_name: str, *, methods: bool = False):
    """Docstrings of a module and its public classes and functions (and methods if asked)."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:  # an optional stdlib module (e.g. ssl) missing on this build
        return
    yield inspect.getdoc(module) or ""
    for name in sorted(vars(module)):
        obj = getattr(module, name)
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
            yield inspect.getdoc(obj) or ""
            if methods and inspect.isclass(obj):
                for attr in sorted(vars(obj)):
                    member = vars(obj)[attr]
                    if not attr.startswith("_") and inspect.isfunction(member):
                        yield inspect.getdoc(member) or ""


def stdlib_docs() -> list[dict]:
    """Distinct stdlib docstrings of MIN_CHARS..MAX_CHARS characters, labelled by area."""
    rows: list[dict] = []
    seen: set[str] = set()
    for area, modules in STDLIB_AREAS.items():
        for module_name in modules:
            for doc in module_docstrings(module_name):
                text = _clean(doc)
                if MIN_CHARS <= len(text) <= MAX_CHARS and text not in seen:
                    seen.add(text)
                    rows.append({"id": f"stdlib-{len(rows):05d}", "text": text, "topic": area})
    return rows


def _license_files() -> list[Path]:
    """Licence files of installed distributions, then the system's common licences."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    found = sorted(p for p in purelib.glob("*.dist-info/**/*") if "LICEN" in p.name.upper())
    system = Path("/usr/share/common-licenses")
    if system.is_dir():
        found += sorted(system.iterdir())
    return [p for p in found if p.is_file() and p.stat().st_size < 200_000]


def licenses() -> list[dict]:
    """Distinct licence paragraphs (merged to MIN_CHARS..MAX_CHARS) from installed packages."""
    rows: list[dict] = []
    seen: set[str] = set()
    for path in _license_files():
        try:
            raw = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        buffer = ""
        for para in raw.split("\n\n"):
            text = " ".join(para.split())
            if len(text) < 40 or text in seen:
                continue
            seen.add(text)
            buffer = f"{buffer} {text}".strip()
            if len(buffer) >= MIN_CHARS:
                rows.append({"id": f"license-{len(rows):05d}", "text": buffer[:MAX_CHARS], "topic": "license"})
                buffer = ""
    return rows


def _load(spec: str, column: str) -> list[dict]:
    if spec == "stdlib_docs":
        return stdlib_docs()
    if spec == "licenses":
        return licenses()
    from metasynth_hf.metrics.corpus import load_corpus

    data = load_corpus(spec, column=column)
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
    names = {
        "stdlib_docs": "Python standard-library docstrings (Python "
        f"{sys.version_info.major}.{sys.version_info.minor}, shipped on this machine)",
        "licenses": "paragraphs of software licence texts installed with Python packages",
    }
    general = names.get(config.general or "", config.general or "none")
    return f"domain: {names.get(config.source, config.source)}; general: {general}"


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
