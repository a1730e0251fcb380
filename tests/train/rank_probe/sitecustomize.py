"""Test harness, not product code: records the batches each rank trains on.

The DeepSpeed tests put this folder on PYTHONPATH, so Python imports it at start-up in every
process; it acts only in training processes (torchrun sets RANK) and only when
RANK_PROBE_DIR is set, where it appends each micro-batch's token ids (and DeepSpeed's ZeRO stage and optimizer) to rank<N>.jsonl. The
launched program stays `metasynth_hf.train`, unchanged.
"""

import json
import os

if os.environ.get("RANK_PROBE_DIR") and os.environ.get("RANK") is not None:
    import transformers

    _original = transformers.Trainer.training_step
    _record = os.path.join(os.environ["RANK_PROBE_DIR"], f"rank{os.environ['RANK']}.jsonl")

    def _training_step(self, model, inputs, *args, **kwargs):
        row = {"step": self.state.global_step, "input_ids": inputs["input_ids"].tolist()}
        if hasattr(model, "zero_optimization_stage"):  # a DeepSpeedEngine: what really runs
            row["zero_stage"] = model.zero_optimization_stage()
            row["optimizer"] = type(getattr(model.optimizer, "optimizer", None)).__name__
        with open(_record, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        return _original(self, model, inputs, *args, **kwargs)

    transformers.Trainer.training_step = _training_step
