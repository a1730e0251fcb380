"""The tiny continual pre-training effect: base vs models trained on each corpus, several seeds.

Every corpus is cut to the same number of training tokens (the model's own tokenizer; the
longer corpora lose their tails), each trains the recipe's model for the same steps, once per
seed (mean and sd in the results), through
`python -m metasynth_hf.train` (the project's training entry point, in a subprocess so each
run starts clean), then the base and both trained models are scored by token-weighted
perplexity on real held-out domain text and on general text (forgetting).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from metasynth_hf.config_io import read_yaml
from metasynth_hf.errors import ConfigError
from metasynth_hf.experiments.config import CptConfig, ExperimentConfig
from metasynth_hf.experiments.reference import RealText

logger = logging.getLogger(__name__)


def equal_token_corpora(corpora: dict[str, list[str]], tokenizer: Any) -> tuple[dict[str, list[str]], int]:
    """Cut every corpus to the smallest corpus's token count (the last document is truncated)."""
    counts = {name: [len(tokenizer(t)["input_ids"]) for t in texts] for name, texts in corpora.items()}
    budget = min(sum(c) for c in counts.values())
    if budget == 0:
        raise ConfigError(f"a CPT corpus has no tokens ({ {k: sum(v) for k, v in counts.items()} })")
    cut: dict[str, list[str]] = {}
    for name, texts in corpora.items():
        kept, used = [], 0
        for text, n in zip(texts, counts[name], strict=True):
            if used + n <= budget:
                kept.append(text)
                used += n
                continue
            ids = tokenizer(text, add_special_tokens=False)["input_ids"][: budget - used]
            if ids:
                kept.append(tokenizer.decode(ids))
            break
        cut[name] = kept
    return cut, budget


def _write_jsonl(texts: list[str], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    return path


def train_command(cpt: CptConfig, data: Path, out: Path, seed: int = 0) -> list[str]:
    """The exact training command of one corpus and seed (also printed in the results)."""
    return [
        sys.executable,
        "-m",
        "metasynth_hf.train",
        "--config",
        str(cpt.recipe),
        "--dataset_name",
        str(data),
        "--output_dir",
        str(out),
        "--max_steps",
        str(cpt.max_steps),
        "--max_length",
        str(cpt.max_length),
        "--test_split_size",
        "0",
        "--save_strategy",
        "no",
        "--seed",
        str(seed),
        *cpt.extra_args,
    ]


def _spread(values: list[float]) -> dict[str, Any]:
    import statistics

    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": round(statistics.fmean(values), 4), "sd": round(sd, 4), "values": [round(v, 4) for v in values]}


def _train(cmd: list[str], threads: int | None) -> float:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigError(f"training failed (exit {done.returncode}): {' '.join(cmd)}\n{done.stderr[-3000:]}")
    return time.monotonic() - started


def _perplexities(model_dir: str, sets: dict[str, list[str]], max_length: int, threads: int | None) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from metasynth_hf.training.perplexity import heldout_perplexity

    if threads:  # on a shared, oversubscribed CPU one thread is much faster than spinning two
        torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    return {
        name: asdict(heldout_perplexity(model, tokenizer, texts, max_length=max_length))
        for name, texts in sets.items()
        if texts
    }


def run_cpt(config: ExperimentConfig, corpora: dict[str, list[str]], real: RealText) -> dict[str, Any]:
    """Train on each CPT corpus (equal tokens), score base and trained models; cpt.json too."""
    from transformers import AutoTokenizer

    from metasynth_hf.causal_lm import trainable_checkpoint

    started = time.monotonic()
    cpt = config.cpt
    if cpt is None:
        raise ConfigError("this experiment has no `cpt:` section; add one to run the CPT effect")
    missing = [c for c in cpt.corpora if c not in corpora]
    if missing:
        raise ConfigError(f"cpt.corpora {missing} were not generated; add them to `methods`")
    recipe = read_yaml(cpt.recipe)
    reference = str(recipe.get("model_name_or_path", "smollm2"))
    base = trainable_checkpoint(reference)
    tokenizer = AutoTokenizer.from_pretrained(base)
    cut, budget = equal_token_corpora({c: corpora[c] for c in cpt.corpora}, tokenizer)
    root = config.output_dir / "cpt"
    sets = {
        "domain": [r["text"] for r in real.heldout],
        "general": [r["text"] for r in real.general],
    }
    threads = config.threads
    result: dict[str, Any] = {
        "base_reference": reference,
        "base_model": base,
        "tokens_per_corpus": budget,
        "runs": {},
    }
    result["runs"]["base"] = {"perplexity": _perplexities(base, sets, cpt.eval_max_length, threads)}
    for name, texts in cut.items():
        data = _write_jsonl(texts, root / "data" / f"{name}.jsonl")
        seeds: dict[str, Any] = {}
        for seed in cpt.seeds:
            out = root / f"{name}-seed{seed}"
            cmd = train_command(cpt, data, out, seed)
            logger.info("training on %s, seed %d: %s", name, seed, " ".join(cmd))
            seconds = _train(cmd, threads)
            summary_file = out / "train_summary.json"
            summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
            seeds[str(seed)] = {
                "train_seconds": round(seconds, 1),
                "train_loss": summary.get("train_loss"),
                "command": " ".join(cmd),
                "perplexity": _perplexities(str(out), sets, cpt.eval_max_length, threads),
            }
        runs = list(seeds.values())
        result["runs"][name] = {
            "documents": len(texts),
            "seeds": seeds,
            "train_seconds": round(sum(r["train_seconds"] for r in runs) / len(runs), 1),
            "train_loss": _spread([r["train_loss"] for r in runs if r["train_loss"] is not None] or [float("nan")]),
            "command": runs[0]["command"],
            "perplexity": {
                s: {
                    "perplexity": _spread([r["perplexity"][s]["perplexity"] for r in runs])["mean"],
                    "tokens": runs[0]["perplexity"][s].get("tokens"),
                    **_spread([r["perplexity"][s]["perplexity"] for r in runs]),
                }
                for s in sets
                if sets[s]
            },
        }
    result["heldout"] = {k: len(v) for k, v in sets.items()}
    result["wall_time_s"] = round(time.monotonic() - started, 1)
    (config.output_dir / "cpt.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
