"""Stand-in real text for `metasynth compare` on a machine with no Hub access.

Not the paper's domain-filtered Common Crawl: English prose that ships with every Python
install, enough to run the comparison end to end here (recipes/experiments/small.yaml):

* `stdlib_docs`: docstrings of the Python standard library (English technical prose, grouped
  by area: files, networking, numbers, ...). It is the "domain" of the small experiment.
* `licenses`: paragraphs of the licence texts installed with Python packages (English legal
  prose), the "general", off-domain text that shows forgetting.

An experiment names them as `reference.source: recipes/experiments/standin_text.py:stdlib_docs`
(each function returns rows of {id, text, topic}); with real data, point `reference.source` at
files, a folder or a Hub id instead. This file is not part of the package.
"""

from __future__ import annotations

import importlib
import inspect
import sysconfig
from pathlib import Path

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
