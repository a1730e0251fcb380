"""Inputs of the GPU check, made offline: a randomly initialised Llama and a synthetic corpus.

The device machine reaches no Hub, so the model is built from a config (the shape of
TinyLlama-1.1B, with the SmolLM2 tokenizer's 49k vocabulary: about 1.1B parameters) and the
corpus is random documents of real vocabulary words (~400 words each, like MetaSynth
documents). Throughput and memory depend on shapes, not on what the weights know.

    python recipes/gpu_check/make_inputs.py --out /tmp/gpu-check            # ~1.1B
    python recipes/gpu_check/make_inputs.py --out /tmp/tiny --size tiny      # CPU smoke test
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
from pathlib import Path

logger = logging.getLogger("gpu_check")

SIZES = {
    "1b": dict(
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=22,
        num_attention_heads=32,
        num_key_value_heads=4,
    ),
    "tiny": dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    ),
}


def build_model(out: Path, size: str) -> int:
    """Save a random Llama of `size` with the SmolLM2 tokenizer; return its parameter count."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from metasynth_hf.causal_lm import trainable_checkpoint

    tokenizer = AutoTokenizer.from_pretrained(trainable_checkpoint("smollm2"))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
        **SIZES[size],
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    return sum(p.numel() for p in model.parameters())


def build_corpus(out: Path, docs: int, words_per_doc: int, seed: int = 0) -> None:
    """Write `docs` random documents to out/corpus/train.parquet (a `text` column)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    vocab = sorted(
        word
        for word in (tokenizer.convert_tokens_to_string([t]).strip() for t in tokenizer.get_vocab())
        if word.isalpha() and len(word) >= 3
    )
    rng = random.Random(seed)
    texts = [" ".join(rng.choices(vocab, k=words_per_doc)) + "." for _ in range(docs)]
    (out / "corpus").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"text": texts}), out / "corpus" / "train.parquet")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", choices=sorted(SIZES), default="1b")
    parser.add_argument("--docs", type=int, default=3000, help="3000 x 400 words ~ 2M tokens")
    parser.add_argument("--words_per_doc", type=int, default=400)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    params = build_model(args.out, args.size)
    build_corpus(args.out, args.docs, args.words_per_doc)
    logger.info("model: %.2fB parameters; corpus: %d documents", params / 1e9, args.docs)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
