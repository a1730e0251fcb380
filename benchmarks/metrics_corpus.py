"""Real-looking benchmark corpora without downloads: a word-trigram Markov chain of real English.

The chain is fitted on the docstrings of the Python standard library (hundreds of thousands of
words by many authors, on many topics), then samples documents of `words_per_doc` words, with a
paragraph break every 60-120 words. The text has a natural Zipfian vocabulary and local syntax,
so n-gram counts, gzip and embeddings behave as on real documents; each document starts from a
random state, so documents differ as real ones do. Corpora are cached as parquet files.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import random
from collections import defaultdict
from pathlib import Path

logger = logging.getLogger(__name__)

#: standard-library modules whose docstrings feed the chain (importable everywhere, no side effects)
MODULES = [
    "abc",
    "argparse",
    "ast",
    "asyncio",
    "base64",
    "bdb",
    "binascii",
    "bisect",
    "builtins",
    "bz2",
    "calendar",
    "cmath",
    "cmd",
    "code",
    "codecs",
    "collections",
    "colorsys",
    "concurrent.futures",
    "configparser",
    "contextlib",
    "copy",
    "csv",
    "ctypes",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "dis",
    "doctest",
    "email",
    "email.message",
    "enum",
    "filecmp",
    "fileinput",
    "fnmatch",
    "fractions",
    "ftplib",
    "functools",
    "gc",
    "getopt",
    "gettext",
    "glob",
    "graphlib",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "html.parser",
    "http.client",
    "http.cookies",
    "http.server",
    "imaplib",
    "importlib",
    "inspect",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "keyword",
    "linecache",
    "locale",
    "logging",
    "lzma",
    "mailbox",
    "math",
    "mimetypes",
    "multiprocessing",
    "numbers",
    "operator",
    "optparse",
    "os",
    "pathlib",
    "pdb",
    "pickle",
    "pkgutil",
    "platform",
    "plistlib",
    "poplib",
    "pprint",
    "profile",
    "pstats",
    "queue",
    "quopri",
    "random",
    "re",
    "reprlib",
    "sched",
    "secrets",
    "selectors",
    "shelve",
    "shlex",
    "shutil",
    "signal",
    "smtplib",
    "socket",
    "socketserver",
    "sqlite3",
    "ssl",
    "stat",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "symtable",
    "sys",
    "sysconfig",
    "tabnanny",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "time",
    "timeit",
    "token",
    "tokenize",
    "trace",
    "traceback",
    "tracemalloc",
    "types",
    "typing",
    "unicodedata",
    "unittest",
    "urllib.parse",
    "urllib.request",
    "uuid",
    "warnings",
    "wave",
    "weakref",
    "xml.dom.minidom",
    "xml.etree.ElementTree",
    "xmlrpc.client",
    "zipfile",
    "zipimport",
    "zlib",
]


def stdlib_text() -> list[str]:
    """Whitespace-normalised docstring paragraphs of standard-library modules and their members."""
    paragraphs, seen = [], set()
    for name in MODULES:
        module = importlib.import_module(name)
        for _, member in inspect.getmembers(module):
            doc = inspect.getdoc(member) if callable(member) or inspect.ismodule(member) else None
            for para in (doc or "").split("\n\n"):
                text = " ".join(para.split())
                if len(text.split()) >= 8 and text not in seen:
                    seen.add(text)
                    paragraphs.append(text)
    return paragraphs


class TrigramChain:
    def __init__(self, paragraphs: list[str]) -> None:
        self.next: dict[tuple[str, str], list[str]] = defaultdict(list)
        for para in paragraphs:
            words = ["<s>", "<s>", *para.split(), "</s>"]
            for a, b, c in zip(words, words[1:], words[2:], strict=False):
                self.next[(a, b)].append(c)
        self.states = [k for k in self.next if k[0] != "<s>" and k[1] != "<s>"]

    def document(self, rng: random.Random, words: int) -> str:
        state = rng.choice(self.states)
        out, para = [state[0], state[1]], 2
        limit = rng.randint(60, 120)
        choice, nxt = rng.choice, self.next
        while len(out) < words:
            word = choice(nxt[state]) if state in nxt else "</s>"
            if word == "</s>":
                state = choice(self.states)
                out.extend(state)
                para += 2
                continue
            if para >= limit:
                out[-1] += "\n\n"
                para, limit = 0, rng.randint(60, 120)
            out.append(word)
            para += 1
            state = (state[1], word)
        return " ".join(out[:words]).replace("\n\n ", "\n\n")


def make_corpus(tokens: int, *, words_per_doc: int = 400, seed: int = 0) -> list[str]:
    chain = TrigramChain(stdlib_text())
    rng = random.Random(seed)
    return [chain.document(rng, words_per_doc) for _ in range(max(2, tokens // words_per_doc))]


def cached_corpus(tokens: int, cache_dir: str | Path, *, seed: int = 0) -> Path:
    """Parquet file of a corpus with about `tokens` whitespace tokens (made once)."""
    import datasets

    path = Path(cache_dir) / f"markov_{tokens}_{seed}.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        logger.info("generating %d-token corpus into %s", tokens, path)
        tmp = path.with_suffix(".tmp")
        datasets.Dataset.from_dict({"text": make_corpus(tokens, seed=seed)}).to_parquet(str(tmp))
        tmp.rename(path)
    return path
