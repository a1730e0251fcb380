"""`evaluate` measurement of the MetaSynth diversity suite, loadable offline.

    import evaluate
    from metasynth_hf.metrics import measurement_path
    diversity = evaluate.load(str(measurement_path()))
    diversity.compute(data=texts, reference_texts=real_texts, metrics=["compression_ratio"])

Returns `{metric: value}` plus `{metric}_ci95` and `{metric}_reference` where the report has
them, and `report` (the full `diversity_report` dict). Same code path, same numbers.
"""

from __future__ import annotations

import datasets
import evaluate

from metasynth_hf.metrics.config import MetricsConfig
from metasynth_hf.metrics.report import diversity_report

_DESCRIPTION = "Diversity of a text corpus: compression ratio, n-gram diversity, self-repetition, homogenization, remote clique, chamfer distance, Vendi score, Task2Vec diversity coefficient and MAUVE."
_CITATION = "Riaz et al. 2025, MetaSynth (arXiv 2504.12563); Shaib et al. 2024 (arXiv 2403.00553); Miranda et al. 2023 (arXiv 2306.13840)."
_KWARGS = """
Args:
    data (list of str): the documents of one corpus.
    reference_texts (list of str, optional): real text; enables MAUVE.
    metrics (list of str, optional): subset of metric groups (default: all).
    any other MetricsConfig field (seed, embedding_model, task2vec_num_batches, ...).
Returns:
    dict of metric -> value, with `_ci95` / `_reference` companions and the full `report`.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class MetasynthDiversity(evaluate.Measurement):
    """The evaluate wrapper: one call of `diversity_report`."""

    def _info(self):
        return evaluate.MeasurementInfo(
            module_type="measurement",
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS,
            features=datasets.Features({"data": datasets.Value("string")}),
        )

    def _compute(self, data, reference_texts=None, metrics=None, **config_fields):
        if metrics is not None:
            config_fields["metrics"] = tuple(metrics)
        config = MetricsConfig(**config_fields)
        report = diversity_report(list(data), reference_texts=reference_texts, config=config)
        out = {"report": report}
        for name, entry in report["metrics"].items():
            out[name] = entry["value"]
            if entry.get("ci95") is not None:
                out[f"{name}_ci95"] = entry["ci95"]
            if entry.get("reference_value") is not None:
                out[f"{name}_reference"] = entry["reference_value"]
        return out
