"""Held-out domain perplexity: the evaluation that needs no benchmark download.

Token-weighted: the mean negative log-likelihood over every predicted token of every held-out
document, exponentiated. Documents are scored one by one (no packing, so no document sees
another), in windows of `max_length` tokens; with `stride < max_length` each window re-reads
`max_length - stride` tokens of context and scores only its new tokens (the usual sliding
window). Compare the base and the trained model on the same text: real domain text measures
adaptation, held-out synthetic text measures fit to the corpus.

    python -m metasynth_hf.training.perplexity --model outputs/tiny-cpt --data heldout.parquet
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PerplexityResult:
    """What one evaluation measured; `perplexity = exp(nll_per_token)`."""

    perplexity: float
    nll_per_token: float
    tokens: int
    documents: int


def windows(ids: list[int], max_length: int, stride: int) -> Iterator[tuple[list[int], int]]:
    """Yield (window ids, number of leading positions that are context only)."""
    scored_until = 0
    for begin in range(0, len(ids), stride):
        end = min(begin + max_length, len(ids))
        yield ids[begin:end], scored_until - begin if begin else 0
        scored_until = end
        if end == len(ids):
            break


def heldout_perplexity(
    model: Any,
    tokenizer: Any,
    texts: Iterable[str],
    *,
    max_length: int = 1024,
    stride: int | None = None,
    batch_size: int = 4,
) -> PerplexityResult:
    """Perplexity of `model` on `texts` (each ends with EOS, as in training)."""
    import torch

    stride = stride or max_length
    if not 0 < stride <= max_length:
        raise ValueError(f"stride must be in 1..max_length ({max_length}), got {stride}")
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    device = next(model.parameters()).device
    total_nll, total_tokens, documents = 0.0, 0, 0
    batch: list[tuple[list[int], int]] = []

    def flush() -> None:
        nonlocal total_nll, total_tokens
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (ids, context) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            labels[row, context : len(ids)] = torch.tensor(ids[context:])
            mask[row, : len(ids)] = 1
        with torch.no_grad():
            logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device), use_cache=False).logits
        shifted = labels[:, 1:].to(device)
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].float().reshape(-1, logits.shape[-1]),
            shifted.reshape(-1),
            ignore_index=-100,
            reduction="sum",
        )
        total_nll += float(nll)
        total_tokens += int((shifted != -100).sum())
        batch.clear()

    model.eval()
    for text in texts:
        documents += 1
        ids = tokenizer(text, add_special_tokens=True)["input_ids"] + eos
        for window in windows(ids, max_length, stride):
            batch.append(window)
            if len(batch) == batch_size:
                flush()
    if batch:
        flush()
    if total_tokens == 0:
        raise ValueError("no tokens to score: the held-out texts are empty")
    nll = total_nll / total_tokens
    return PerplexityResult(math.exp(nll), nll, total_tokens, documents)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the perplexity command."""
    parser.add_argument("--model", required=True, help="checkpoint dir, Hub id, .gguf or smollm2")
    parser.add_argument("--data", required=True, help="held-out text: corpus dir, file or Hub id")
    parser.add_argument("--split", default="train", help="split of --data to score")
    parser.add_argument("--text_field", default="text")
    parser.add_argument("--max_length", type=int, default=1024)
    parser.add_argument("--stride", type=int, default=None, help="default: max_length")
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--limit", type=int, default=None, help="score only the first N docs")
    parser.add_argument("--dtype", default="float32", help="float32, bfloat16 or float16")
    parser.add_argument("--output", default=None, help="write the result as JSON here")


def run(args: argparse.Namespace) -> int:
    """Load model and data, score, print the result as JSON (and write it if asked)."""
    import torch

    from metasynth_hf.causal_lm import load_causal_lm
    from metasynth_hf.training.data import load_source, to_text

    tokenizer, model = load_causal_lm(args.model, dtype=args.dtype)
    if torch.cuda.is_available():
        model.to("cuda")
    rows = to_text(load_source(args.data, split=args.split), args.text_field)
    if args.limit:
        rows = rows.select(range(min(args.limit, len(rows))))
    result = heldout_perplexity(
        model,
        tokenizer,
        rows[args.text_field],
        max_length=args.max_length,
        stride=args.stride,
        batch_size=args.batch_size,
    )
    text = json.dumps({"model": args.model, "data": args.data, **asdict(result)}, indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cli = argparse.ArgumentParser(prog="python -m metasynth_hf.training.perplexity")
    add_arguments(cli)
    sys.exit(run(cli.parse_args()))
