"""Settings of the diversity suite, and the one table of metric names and directions.

YAML keys equal field names (the builder's `compute_stats` block and `metasynth stats --config`
use this model). Defaults are sized for a 25M-token corpus on a 2-core CPU machine.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from metasynth_hf.config_io import StrictConfig
from metasynth_hf.errors import MetaSynthError
from metasynth_hf.models import EMBEDDED_CHAT_MODEL, EMBEDDED_EMBEDDING_MODEL

Direction = Literal["higher", "lower"]


class CorpusError(MetaSynthError, ValueError):
    """A corpus cannot be scored (empty, one document, no tokens); the message says what to pass."""


#: metric name -> (direction in which the corpus is more diverse, one-line meaning).
#: One source for the report, the table, the plots and the evaluate module.
METRICS: dict[str, tuple[Direction, str]] = {
    "compression_ratio": ("lower", "bytes / gzip bytes of the space-joined corpus"),
    "ngram_diversity": ("higher", "sum over n=1..4 of unique / all n-grams of the joined corpus"),
    "ngram_diversity_1": ("higher", "unique / all 1-grams (the paper's 1-gram diversity)"),
    "ngram_diversity_2": ("higher", "unique / all 2-grams"),
    "ngram_diversity_3": ("higher", "unique / all 3-grams"),
    "ngram_diversity_4": ("higher", "unique / all 4-grams"),
    "self_repetition": ("lower", "mean log(1 + recurrences of a document's 4-grams elsewhere)"),
    "homogenization": ("lower", "mean pairwise ROUGE-L F1 between documents"),
    "remote_clique": ("higher", "mean pairwise cosine distance of document embeddings"),
    "chamfer_distance": ("higher", "mean cosine distance of a document to its nearest other"),
    "vendi_score": ("higher", "exp entropy of the eigenvalues of the cosine kernel / n"),
    "task2vec_diversity": ("higher", "expected cosine distance of Task2Vec batch embeddings"),
    "mauve": ("higher", "MAUVE against the reference corpus (higher = closer to real)"),
}

LEXICAL = ("compression_ratio", "ngram_diversity", "self_repetition", "homogenization")
EMBEDDING = ("remote_clique", "chamfer_distance", "vendi_score", "mauve")
ALL_GROUPS = (*LEXICAL, *EMBEDDING, "task2vec_diversity")


class MetricsConfig(StrictConfig):
    """What to compute and how; every sampled metric takes `seed`."""

    metrics: tuple[str, ...] = Field(
        default=ALL_GROUPS, description="metrics to compute; mauve needs a reference corpus"
    )
    seed: int = 0
    batch_docs: int = Field(2000, ge=1, description="documents per streaming batch")
    # lexical
    ngram_max_n: int = Field(4, ge=1, le=8)
    self_repetition_n: int = Field(4, ge=1, le=8)
    reference_compatible: bool = Field(True, description="also report the values the `diversity` package would print")
    homogenization_sample: int = Field(
        1000, ge=2, description="documents scored all-pairs; the whole corpus when smaller"
    )
    bootstrap_rounds: int = Field(200, ge=0, description="bootstrap resamples for sampled CIs")
    # embeddings
    embedding_model: str = EMBEDDED_EMBEDDING_MODEL
    embedding_batch_size: int = Field(64, ge=1)
    embedding_max_seq_length: int | None = Field(
        None, ge=8, description="word pieces per document; None keeps the model's own (256)"
    )
    embedding_device: str | None = None
    embedding_sample: int | None = Field(
        None,
        ge=2,
        description="embed a seeded sample of this many documents (CPU time bound); None = all",
    )
    cpu_threads: int | None = Field(
        None,
        ge=1,
        description="torch and BLAS threads; 1 on oversubscribed machines (None: library defaults)",
    )
    cache_dir: str | None = Field(None, description="embedding cache; default ~/.cache/metasynth_hf")
    use_cache: bool = True
    # MAUVE (mauve-text): features are sampled to at most this many documents per side
    mauve_max_docs: int = Field(5000, ge=2)
    mauve_kmeans_num_redo: int = Field(5, ge=1)
    mauve_kmeans_max_iter: int = Field(500, ge=1)
    # Task2Vec (Miranda et al. 2023): `num_batches` tasks of `batch_size` sequences each
    task2vec_probe: str = EMBEDDED_CHAT_MODEL
    task2vec_num_batches: int = Field(8, ge=2)
    task2vec_batch_size: int = Field(8, ge=1)
    task2vec_max_length: int = Field(128, ge=4)
    task2vec_minibatch: int = Field(8, ge=1)
    task2vec_finetune_epochs: int = Field(0, ge=0, description="epochs fitting the LM head first")
    task2vec_learning_rate: float = 5e-5
    # `stats --compare`: corpora cut to equal tokens get 95% intervals (metrics/intervals.py)
    interval_rounds: int = Field(
        100, ge=0, description="subsamples for the 95% intervals of corpora compared side by side; 0 = none"
    )

    @field_validator("metrics")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in value if m not in ALL_GROUPS]
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; choose from {list(ALL_GROUPS)}")
        return value


#: The defaults, shared (the model is frozen, so one instance is safe as an argument default).
DEFAULT_CONFIG = MetricsConfig()
