"""Causal LMs through transformers (Task2Vec probe, perplexity, training), GGUF files included.

A GGUF model (the embedded SmolLM2 by default) is turned into a checkpoint that can be trained.

transformers dequantises a GGUF file on load, but the model it returns keeps a quantization
config: `Trainer` refuses it ("cannot perform fine-tuning on purely quantized models") and so
does `save_pretrained`. Rebuilding the model from its config without that entry and loading the
dequantised weights gives a plain checkpoint; it is written once per GGUF file (keyed by the
file's content hash) into a cache directory and reused by every later run. Before it is
saved, the rebuilt model must reproduce the GGUF model's logits on a probe sentence.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from metasynth_hf.errors import ConfigError, missing_dependency
from metasynth_hf.models import resolve_model

logger = logging.getLogger(__name__)

#: Environment variable that moves the conversion cache (default: ~/.cache/metasynth_hf).
CACHE_ENV = "METASYNTH_HF_CACHE"
#: Written beside the weights: what was converted and how closely it reproduces the GGUF model.
CONVERSION_RECORD = "metasynth_conversion.json"
#: Same float32 weights on the same kernels: anything above rounding noise is a real mismatch.
MAX_LOGIT_DIFF = 1e-3


def default_cache_dir() -> Path:
    """Where converted checkpoints live unless a caller says otherwise."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "metasynth_hf"
    return Path(root) / "converted"


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def pending_conversion(reference: str, cache_dir: str | Path | None = None) -> tuple[Path, int] | None:
    """(target directory, approximate bytes) of the float32 checkpoint `trainable_checkpoint` will
    write for `reference`, or None when there is nothing to convert (not GGUF, or already cached).
    The size is the GGUF file's parameter count times 4, read from its header only."""
    ref = resolve_model(reference)
    if not ref.gguf_file:
        return None
    gguf_path = Path(ref.name_or_path) / ref.gguf_file
    target = Path(cache_dir or default_cache_dir()) / f"{gguf_path.stem}-{_file_digest(gguf_path)}"
    if (target / "config.json").is_file():
        return None
    try:
        from gguf import GGUFReader

        size = 4 * sum(int(t.n_elements) for t in GGUFReader(gguf_path).tensors)
    except Exception:  # noqa: BLE001 - only an estimate for a message: a newer gguf layout must not stop the run
        size = 0
    return target, size


def trainable_checkpoint(reference: str, cache_dir: str | Path | None = None) -> str:
    """Return a `from_pretrained` path for `reference`, converting GGUF files once.

    Hub ids and local checkpoint directories come back unchanged; `smollm2` or a `.gguf` path
    comes back as the directory of its converted float32 checkpoint (weights and tokenizer).
    """
    ref = resolve_model(reference)
    if not ref.gguf_file:
        return ref.name_or_path
    gguf_path = Path(ref.name_or_path) / ref.gguf_file
    target = Path(cache_dir or default_cache_dir()) / f"{gguf_path.stem}-{_file_digest(gguf_path)}"
    if (target / "config.json").is_file():
        logger.info("reusing converted checkpoint %s", target)
        return str(target)
    logger.info("converting %s into a trainable checkpoint at %s", gguf_path.name, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        # Saving goes through accelerate, which imports DeepSpeed where it is installed; DeepSpeed's
        # logger binds a handler to the sys.stdout of that moment and prints "Setting accelerator
        # to CPU" on it: stdout is a command's result (`metasynth stats > table.txt`), so library
        # output during the conversion (and DeepSpeed's logger for good) goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            _convert(gguf_path, staging)
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is shared like ~/.cache/huggingface
        try:
            staging.rename(target)
        except OSError:  # another process finished first: its copy is just as good
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return str(target)


def _convert(gguf_path: Path, out_dir: Path) -> None:
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_dependency("transformers and torch", "metrics") from exc
    directory, name = str(gguf_path.parent), gguf_path.name
    # Every GGUF load re-parses the whole file (~15 s for SmolLM2 on a busy CPU): load the
    # model and the tokenizer once each and take the config from the loaded model.
    try:
        with _quiet_gguf_bar():
            quantized = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load GGUF model {gguf_path}: {exc}") from exc
    config = copy.deepcopy(quantized.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    # Tied embeddings may legitimately be absent from one side; anything else is a real mismatch.
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise ConfigError(
            f"GGUF weights of {gguf_path} do not match its config: missing {missing}, unexpected {unexpected}"
        )
    diff = _logit_difference(quantized, model, tokenizer)
    if diff > MAX_LOGIT_DIFF:
        raise ConfigError(
            f"converted {gguf_path.name} does not reproduce the GGUF model (logits differ by "
            f"{diff:.2e}); report this with your transformers version"
        )
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    record = {"gguf_file": gguf_path.name, "max_abs_logit_diff": diff}
    (out_dir / CONVERSION_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


@contextlib.contextmanager
def _quiet_gguf_bar():
    """transformers' GGUF reader draws its own tqdm bar (a plain `tqdm.auto` import, which no
    progress switch reaches) in the middle of ours; hidden unless logging is at INFO (-v)."""
    try:
        import transformers.modeling_gguf_pytorch_utils as reader
    except ImportError:  # pragma: no cover - another transformers layout
        yield
        return
    original = getattr(reader, "tqdm", None)
    if original is None or logging.getLogger().isEnabledFor(logging.INFO):
        yield
        return
    reader.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        reader.tqdm = original


def _logit_difference(reference: Any, candidate: Any, tokenizer: Any) -> float:
    """Largest logit difference of the two models on a short probe (0.0 for a faithful copy)."""
    import torch

    ids = tokenizer("Interest rates and bond yields move in opposite directions.")["input_ids"]
    probe = torch.tensor([ids])
    with torch.no_grad():
        expected, got = reference(input_ids=probe).logits, candidate(input_ids=probe).logits
    return float((expected - got).abs().max())


def load_causal_lm(reference: str, *, dtype: str = "float32"):
    """Load (tokenizer, model) in eval mode; a GGUF file goes through its cached conversion."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_dependency("transformers and torch", "metrics") from exc
    ref = resolve_model(reference)
    path = ref.name_or_path
    if ref.gguf_file:
        # Parsing and dequantising a GGUF file takes 15-60 s on every load; convert it once
        # (checked to reproduce the GGUF model's logits) and load the plain checkpoint.
        path = trainable_checkpoint(reference)
    logger.info("loading %s from %s", ref.model_id, path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    model.eval()
    return tokenizer, model
