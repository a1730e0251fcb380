"""Diversity metrics as dataset statistics (each module says what it computes and its reference).

Each metric is a plain function over texts or embeddings; `report.diversity_report` runs the
suite on one corpus and `report.compare_corpora` on several. Heavy dependencies (faiss,
sentence-transformers, torch, mauve) load only when their metric runs.
"""

from pathlib import Path

from metasynth_hf.metrics.config import METRICS, CorpusError, MetricsConfig

__all__ = [
    "METRICS",
    "CorpusError",
    "MetricsConfig",
    "compare_corpora",
    "diversity_report",
    "measurement_path",
]


def measurement_path() -> Path:
    """File to pass to `evaluate.load` for the diversity measurement (no Hub access needed)."""
    return Path(__file__).with_name("diversity_measurement.py")


def __getattr__(name: str):
    if name in {"diversity_report", "compare_corpora"}:
        from metasynth_hf.metrics import report

        return getattr(report, name)
    raise AttributeError(name)
