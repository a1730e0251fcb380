"""PNG figures for the card: one bar panel per metric across corpora, and a 2-D embedding map.

Bars carry the 95% CI where the metric has one; the title says which direction is more diverse.
The map projects document embeddings of all corpora on their two principal components (one
shared PCA, so positions are comparable), at most `max_points` seeded-sampled documents each.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from metasynth_hf.errors import missing_dependency
from metasynth_hf.metrics.config import METRICS

logger = logging.getLogger(__name__)


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_dependency("matplotlib", "metrics") from exc
    return plt


def _colors(names: list[str]) -> dict[str, tuple]:
    plt = _pyplot()
    cmap = plt.get_cmap("tab10")
    return {name: cmap(i % 10) for i, name in enumerate(names)}


def _bar(ax, metric: str, reports: Mapping[str, dict], colors: dict) -> bool:
    names = [n for n, r in reports.items() if r["metrics"].get(metric, {}).get("value") is not None]
    if not names:
        return False
    values = [reports[n]["metrics"][metric]["value"] for n in names]
    errors = np.zeros((2, len(names)))
    for i, name in enumerate(names):
        ci = reports[name]["metrics"][metric].get("ci95")
        if ci:
            errors[:, i] = [max(values[i] - ci[0], 0.0), max(ci[1] - values[i], 0.0)]
    ax.bar(
        names,
        values,
        color=[colors[n] for n in names],
        yerr=errors if errors.any() else None,
        capsize=4,
    )
    direction = METRICS[metric][0]
    ax.set_title(f"{metric} ({direction} = more diverse)", fontsize=9)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    for i, value in enumerate(values):
        ax.annotate(f"{value:.3g}", (i, value), ha="center", va="bottom", fontsize=7)
    return True


def _embedding_map(embeddings: Mapping[str, np.ndarray], path: Path, colors: dict, max_points: int, seed: int) -> Path:
    plt = _pyplot()
    rng = np.random.default_rng(seed)
    picked = {}
    for name, emb in embeddings.items():
        idx = np.sort(rng.choice(len(emb), size=min(max_points, len(emb)), replace=False))
        picked[name] = np.asarray(emb, dtype=np.float64)[idx]
    stacked = np.concatenate(list(picked.values()))
    centre = stacked.mean(axis=0)
    _, _, vt = np.linalg.svd(stacked - centre, full_matrices=False)
    fig, ax = plt.subplots(figsize=(6, 5))
    for name, points in picked.items():
        xy = (points - centre) @ vt[:2].T
        ax.scatter(xy[:, 0], xy[:, 1], s=6, alpha=0.6, color=colors.get(name), label=name)
    ax.set_title("document embeddings (PCA)")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(markerscale=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_plots(
    reports: Mapping[str, dict],
    out_dir: str | Path,
    embeddings: Mapping[str, np.ndarray] | None = None,
    *,
    max_points: int = 2000,
    seed: int = 0,
) -> list[Path]:
    """Write `metric_<name>.png` per metric, `diversity_panels.png` (all), `embedding_map.png`."""
    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = list(reports)
    colors = _colors(names)
    metrics = [m for m in METRICS if any(r["metrics"].get(m, {}).get("value") is not None for r in reports.values())]
    written: list[Path] = []
    for metric in metrics:
        fig, ax = plt.subplots(figsize=(max(3.5, 1.2 * len(names) + 1.5), 3.5))
        _bar(ax, metric, reports, colors)
        fig.tight_layout()
        path = out / f"metric_{metric}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    if metrics:
        cols = min(4, len(metrics))
        rows = math.ceil(len(metrics) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.2 * rows), squeeze=False)
        for ax, metric in zip(axes.flat, metrics, strict=False):
            _bar(ax, metric, reports, colors)
        for ax in list(axes.flat)[len(metrics) :]:
            ax.axis("off")
        fig.tight_layout()
        path = out / "diversity_panels.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    if embeddings:
        written.append(_embedding_map(embeddings, out / "embedding_map.png", colors, max_points, seed))
    logger.info("wrote %d plots to %s", len(written), out)
    return written
