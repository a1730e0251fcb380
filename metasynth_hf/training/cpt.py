"""Continual pre-training with TRL's SFTTrainer: what `metasynth train` and
`accelerate launch -m metasynth_hf.train` run on every process.

Beyond `trl sft`: GGUF models (the embedded `smollm2`) are converted to a trainable checkpoint
once; local corpus directories, data files and builder scripts load directly;
`global_batch_size` keeps the effective batch fixed across layouts; after training, the
held-out split is evaluated and `heldout_perplexity.json` and `train_summary.json` are written.
"""

from __future__ import annotations

import logging
import math
import sys
from typing import Any

logger = logging.getLogger(__name__)


def _checkpoint_for(model_args: Any, training_args: Any) -> None:
    """Replace a GGUF reference by its converted checkpoint (converted on the main process)."""
    from metasynth_hf.causal_lm import trainable_checkpoint

    with training_args.main_process_first(desc="GGUF conversion"):
        model_args.model_name_or_path = trainable_checkpoint(model_args.model_name_or_path)


def _check_world_size(training_args: Any) -> None:
    """Refuse a launch in which accelerate counts fewer processes than were started.

    DeepSpeed on CPU without a `ddp_backend`: accelerate's state finds no backend for the CPU,
    counts 1 process although DeepSpeed joined all of them over gloo, and then neither shards
    the data nor sizes the batch for them: every process would train on the same rows.
    """
    import torch.distributed as dist

    from metasynth_hf.errors import ConfigError

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() != training_args.world_size:
        raise ConfigError(
            f"{dist.get_world_size()} processes were launched but accelerate counts "
            f"{training_args.world_size}, so each would train alone on the same data; with DeepSpeed "
            "on CPU add `--ddp_backend gloo`"
        )


def _model_init_kwargs(model_args: Any, training_args: Any) -> None:
    kwargs = dict(
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
        attn_implementation=model_args.attn_implementation,
        dtype=model_args.dtype,
    )
    kwargs.update(training_args.model_init_kwargs or {})
    training_args.model_init_kwargs = kwargs


def _check_packing(training_args: Any) -> None:
    if training_args.packing and training_args.packing_strategy == "bfd":
        logger.warning(
            "packing_strategy=bfd truncates documents longer than max_length=%s and drops the "
            "rest; continual pre-training should keep every token: use bfd_split",
            training_args.max_length,
        )


def _evaluate_and_summarise(trainer: Any, corpus: Any, summary: dict[str, Any]) -> None:
    """Held-out loss -> perplexity, then heldout_perplexity.json and train_summary.json."""
    from metasynth_hf.training.throughput import write_summary

    out = trainer.args.output_dir
    if "test" in corpus:
        loss = trainer.evaluate()["eval_loss"]  # every process takes part in evaluation
        heldout = {
            "eval_loss": loss,
            "perplexity": math.exp(loss),
            "documents": len(corpus["test"]),
        }
        summary["heldout_perplexity"] = heldout["perplexity"]
        if trainer.is_world_process_zero():
            write_summary(f"{out}/heldout_perplexity.json", heldout)
    if trainer.is_world_process_zero():
        write_summary(f"{out}/train_summary.json", summary)
        logger.info("done: %s", summary)


def main(argv: list[str] | None = None) -> int:
    """Parse, load data and model, train, save, evaluate held-out perplexity."""
    from trl import SFTTrainer, get_peft_config

    from metasynth_hf.errors import ConfigError
    from metasynth_hf.training.args import apply_global_batch_size, parse
    from metasynth_hf.training.data import load_corpus
    from metasynth_hf.training.throughput import ThroughputCallback

    argv = list(sys.argv[1:] if argv is None else argv)
    script_args, training_args, model_args, mixture_args, cpt_args = parse(argv)
    _check_world_size(training_args)
    apply_global_batch_size(training_args, cpt_args, training_args.world_size)
    _check_packing(training_args)
    if training_args.include_num_input_tokens_seen == "no":
        training_args.include_num_input_tokens_seen = "all"
    # the data first: an empty or missing corpus is said before minutes of GGUF conversion
    with training_args.main_process_first(desc="loading the corpus"):
        corpus = load_corpus(script_args, mixture_args, training_args.dataset_text_field, training_args.seed)
    if training_args.eval_strategy != "no" and "test" not in corpus:
        raise ConfigError(
            f"eval_strategy={training_args.eval_strategy.value}: there is no held-out split to "
            "evaluate; set test_split_size (e.g. 0.01) or eval_strategy: 'no'"
        )
    _checkpoint_for(model_args, training_args)
    _model_init_kwargs(model_args, training_args)
    throughput = ThroughputCallback()
    trainer = SFTTrainer(
        model=model_args.model_name_or_path,
        args=training_args,
        train_dataset=corpus["train"],
        eval_dataset=corpus.get("test"),
        peft_config=get_peft_config(model_args),
        callbacks=[throughput],
    )
    result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model(training_args.output_dir)
    trainer.save_state()
    _evaluate_and_summarise(trainer, corpus, {"train_loss": result.training_loss, **throughput.summary})
    if training_args.push_to_hub:
        trainer.push_to_hub()
    trainer.accelerator.end_training()
    return 0


def launch() -> int:
    """`python -m metasynth_hf.train` (what `accelerate launch -m` runs): logging on, then main."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return main()
