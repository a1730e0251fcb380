"""Import what an extra claims to enable, in a venv that has only that extra (run by `.ci/run`).

    python scripts/check_extras.py local,metrics      # the `make demo` venv
    python scripts/check_extras.py train              # a venv from `pip install '.[train]'`

`tests/test_extras.py` checks the same table statically against pyproject.toml on every test
run; this script is the real thing, in a venv that lacks every other extra.
"""

from __future__ import annotations

import importlib
import sys

#: extra(s) -> the modules whose features they claim to enable.
FEATURES: dict[str, list[str]] = {
    "local": ["metasynth_hf.llm.local", "metasynth_hf.llm.llama_engine"],
    # `make demo`: generate on the embedded model, then its statistics.
    "local,metrics": ["metasynth_hf.commands.generate", "metasynth_hf.commands.stats", "metasynth_hf.cli"],
    "metrics": ["metasynth_hf.commands.stats", "metasynth_hf.seeds.topic_aware", "metasynth_hf.metrics.task2vec"],
    "clean": ["metasynth_hf.commands.clean"],
    "train": [
        "metasynth_hf.train",
        "metasynth_hf.commands.train",
        "metasynth_hf.training.cpt",
        "metasynth_hf.training.perplexity",
    ],
    "eval": [],  # recipes/eval/lm_eval.sh: the lm_eval command
}
#: third-party modules each extra's features import only inside functions, or need at run time.
RUNTIME_IMPORTS: dict[str, list[str]] = {
    "local": ["llama_cpp", "llama_cpp.llama_chat_format", "llama_cpp.llama_grammar"],
    "local,metrics": [
        "llama_cpp",
        "torch",
        "transformers",
        "gguf",
        "accelerate",
        "sentence_transformers",
        "faiss",
        "matplotlib",
        "scipy",
        "evaluate",
        "sklearn",
        "rapidfuzz",
        "threadpoolctl",
        "pandas",
    ],
    "metrics": ["torch", "transformers", "gguf", "accelerate", "sentence_transformers", "faiss", "scipy"],
    "clean": ["datasketch", "pycld2", "py3langid"],
    "train": ["torch", "transformers", "gguf", "trl", "accelerate", "deepspeed", "peft"],
    "eval": ["lm_eval"],
}


def main(extras: str) -> int:
    if extras not in FEATURES:
        print(f"error: unknown extras {extras!r}; known: {', '.join(FEATURES)}", file=sys.stderr)
        return 2
    failed = []
    for name in FEATURES[extras] + RUNTIME_IMPORTS[extras]:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            failed.append(f"{name}: {exc}")
    for line in failed:
        print(f"error: [{extras}] cannot import {line}", file=sys.stderr)
    if not failed:
        print(f"[{extras}]: {len(FEATURES[extras]) + len(RUNTIME_IMPORTS[extras])} modules import")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "local,metrics"))
