"""Small fixed corpora made here, and the embeddings of them shared by the metric tests.

"Varied" documents are real English: docstrings of standard-library modules (different topics,
different authors). "Template" documents are the repetitive template prompting the paper warns
about: one sentence frame with a few slots.
"""

from __future__ import annotations

import importlib
import inspect
import os
import random

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_MODULES = [
    "argparse",
    "asyncio",
    "collections",
    "csv",
    "datetime",
    "decimal",
    "email",
    "fractions",
    "ftplib",
    "functools",
    "gzip",
    "heapq",
    "http.client",
    "imaplib",
    "inspect",
    "json",
    "logging",
    "mailbox",
    "pathlib",
    "pickle",
    "random",
    "shutil",
    "smtplib",
    "socket",
    "sqlite3",
    "statistics",
    "string",
    "subprocess",
    "tarfile",
    "textwrap",
    "threading",
    "typing",
    "unittest",
    "urllib.parse",
    "uuid",
    "zipfile",
]


def stdlib_paragraphs(min_words: int = 25) -> list[str]:
    """Docstring paragraphs of standard-library members, one line each, in a fixed order."""
    seen, out = set(), []
    for name in _MODULES:
        module = importlib.import_module(name)
        for _, member in sorted(inspect.getmembers(module), key=lambda kv: kv[0]):
            doc = inspect.getdoc(member) if callable(member) or inspect.ismodule(member) else None
            for para in (doc or "").split("\n\n"):
                text = " ".join(para.split())
                if len(text.split()) >= min_words and text not in seen:
                    seen.add(text)
                    out.append(text)
    return out


def varied_corpus(num_docs: int, words: int = 120, seed: int = 0) -> list[str]:
    """Documents of ~`words` words made of docstring paragraphs drawn without replacement."""
    paragraphs = stdlib_paragraphs()
    rng = random.Random(seed)
    rng.shuffle(paragraphs)
    docs, current = [], []
    for para in paragraphs:
        current.append(para)
        if sum(len(p.split()) for p in current) >= words:
            docs.append("\n\n".join(current))
            current = []
            if len(docs) == num_docs:
                return docs
    raise AssertionError(f"only {len(docs)} documents of {words} words available")


def template_corpus(num_docs: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    fields = ["finance", "banking", "insurance", "investment"]
    firms = ["companies", "banks", "firms", "institutions"]
    verbs = ["adapt", "innovate", "evolve", "transform"]
    frame = (
        "In today's ever-changing {f} landscape, {c} must {v} to stay competitive. "
        "Understanding the key trends in {f} is essential for {c} that want to {v} and grow. "
        "This article explores how {c} can {v} in the {f} sector."
    )
    return [frame.format(f=rng.choice(fields), c=rng.choice(firms), v=rng.choice(verbs)) for _ in range(num_docs)]


@pytest.fixture(scope="session")
def varied() -> list[str]:
    return varied_corpus(40, words=120, seed=1)


@pytest.fixture(scope="session")
def reference_docs() -> list[str]:
    docs = varied_corpus(80, words=120, seed=2)
    return docs[40:]


@pytest.fixture(scope="session")
def template() -> list[str]:
    return template_corpus(40)


@pytest.fixture(scope="session")
def unicode_docs() -> list[str]:
    return [
        "Über die Märkte: Zinsen steigen, der Euro fällt — 利率上升 ✓",
        "Les marchés financiers évoluent; l'inflation ralentit à 2,5 %.",
        "Рынок облигаций вырос на 3% за неделю, ставки снижаются.",
        "株式市場は上昇し、円は下落した。投資家は慎重だ。",
        "emoji 📈📉 and café naïve résumé, tabs\tand\nnewlines  double  spaces",
        "",
    ]


@pytest.fixture(scope="session")
def long_docs() -> list[str]:
    base = varied_corpus(30, words=120, seed=3)
    return [" ".join(base[:15]), " ".join(base[15:]), base[0]]


@pytest.fixture(autouse=True)
def _one_cpu_thread():
    """2 busy shared cores: one torch/BLAS thread is many times faster than two spinning ones."""
    from metasynth_hf.metrics.embeddings import cpu_threads

    with cpu_threads(1):
        yield


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """One embedding cache for the whole session: each test corpus is encoded once."""
    return str(tmp_path_factory.mktemp("embedding_cache"))


@pytest.fixture(scope="session")
def tiny_config(cache_dir):
    from metasynth_hf.metrics.config import MetricsConfig

    return MetricsConfig(
        cache_dir=cache_dir,
        task2vec_num_batches=3,
        task2vec_batch_size=2,
        task2vec_max_length=12,
        task2vec_minibatch=2,
        bootstrap_rounds=50,
    )


@pytest.fixture(scope="session")
def probe():
    """The embedded SmolLM2 Task2Vec probe, loaded once (about a minute on busy cores)."""
    from metasynth_hf.metrics.task2vec import load_probe

    return load_probe("smollm2")
