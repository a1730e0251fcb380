"""Embedded default on llama.cpp, measured side by side in one run (read the ratios).

1. MetaSynth workload, whole CLI processes: `metasynth generate --config recipes/demo.yaml
   --num-docs N` on this tree vs on `--baseline-ref` (the transformers backend it replaced,
   run from a git worktree in the same venv), each from an empty cache. Wall time, completion
   tokens/s, and the share of conductor turns that parsed on the first attempt.
2. The same MetaSynth run with the grammar switched off (`conductor.grammar=false`): the
   first-attempt parse rate without schema-constrained decoding.
3. Template job of `--template-docs` documents: the whole CLI vs what a user would write
   instead, a sequential loop over llama-cpp-python's `create_chat_completion` (library
   defaults, n_ctx raised to fit) on the same requests, recorded from the CLI's own run.

    python benchmarks/bench_embedded.py                                  # 8 + 32 documents
    python benchmarks/bench_embedded.py --docs 4 --baseline-ref none     # skip the old backend
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cli_run(tree: Path, out: Path, args: list[str]) -> dict:
    """One whole `metasynth generate` process on `tree`'s code; its summary plus wall time."""
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "metasynth_hf.cli", "generate", "--out", str(out), "--no-progress", *args]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {tree}:\n{done.stderr[-3000:]}")
    summary = json.loads(next(out.glob("summary-*.json")).read_text())
    return {"wall_s": wall, "summary": summary, "first_try": first_attempt_rate(out)}


def first_attempt_rate(out: Path) -> tuple[int, int]:
    """(conductor turns parsed at the first attempt, conductor turns) from the provenance."""
    turns = failed = 0
    for shard in out.glob("shard-*.jsonl"):
        for line in shard.read_text().splitlines():
            prov = json.loads(json.loads(line)["provenance"])
            turns += int(prov.get("conductor_turns", 0))
            failed += sum(
                1 for f in prov.get("fallbacks", []) if f.get("reason", "").startswith(("re-asked", "unparseable"))
            )
    return turns - failed, turns


def completion_tokens(summary: dict) -> int:
    return sum(t.get("completion_tokens", 0) for t in summary.get("by_role", {}).values())


def worktree(ref: str, where: Path) -> Path:
    path = where / f"baseline-{ref}"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT, check=True, capture_output=True)
    return path


def metasynth_rows(args, tmp: Path) -> list[tuple[str, dict]]:
    common = [
        "--config",
        str(ROOT / "recipes" / "demo.yaml"),
        "--num-docs",
        str(args.docs),
    ]  # this tree's settings for both
    rows = [("llama.cpp (this tree)", cli_run(ROOT, tmp / "new", common))]
    rows.append(
        ("llama.cpp, no grammar", cli_run(ROOT, tmp / "nogrammar", [*common, "--set", "conductor.grammar=false"]))
    )
    if args.baseline_ref != "none":
        tree = worktree(args.baseline_ref, tmp)
        try:
            rows.append((f"transformers ({args.baseline_ref})", cli_run(tree, tmp / "old", common)))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    return rows


def template_rows(args, tmp: Path) -> list[tuple[str, float, int]]:
    """(label, wall seconds, documents): the CLI, then the same requests in a plain loop."""
    out = tmp / "template"
    run = cli_run(
        ROOT,
        out,
        [
            "--domain",
            "finance",
            "--method",
            "template",
            "--num-docs",
            str(args.template_docs),
            "--set",
            "expert_sampling.max_tokens=160",
            "--lanes",
            "8",
        ],
    )
    requests = asyncio.run(record_template_requests(args, tmp / "record"))
    from llama_cpp import Llama

    from metasynth_hf.models import smollm2_gguf

    started = time.perf_counter()
    llm = Llama(str(smollm2_gguf()), n_ctx=4096, verbose=False)
    for messages, params in requests:
        llm.create_chat_completion(
            messages,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            seed=params.seed,
        )
    loop_wall = time.perf_counter() - started
    return [
        ("metasynth generate --method template", run["wall_s"], args.template_docs),
        ("sequential create_chat_completion loop", loop_wall, len(requests)),
    ]


async def record_template_requests(args, out: Path) -> list:
    """The template job's requests, as the engine sends them (recorded from a real run)."""
    from metasynth_hf.config import RunConfig
    from metasynth_hf.generation.engine import generate
    from metasynth_hf.llm.local import LocalChatModel

    model, seen = LocalChatModel(), []

    class Recorder:
        model_id = model.model_id

        async def chat(self, messages, params=None):
            seen.append((messages, params))
            return await model.chat(messages, params)

        async def aclose(self):
            return None

    config = RunConfig(
        domain="finance",
        method="template",
        num_docs=args.template_docs,
        output_dir=out,
        expert_sampling={"max_tokens": 160},
        lanes=8,
    )
    await generate(config, models={"writer": Recorder()})
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=8, help="MetaSynth documents per backend")
    parser.add_argument("--template-docs", type=int, default=32)
    parser.add_argument("--baseline-ref", default="f62af0f", help="commit with the transformers backend, or 'none'")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = metasynth_rows(args, Path(tmp))
        print(f"\nMetaSynth, {args.docs} documents, recipes/demo.yaml, whole CLI processes, empty caches")
        print("| backend | wall s | completion tok | tok/s | turns parsed first try | speed-up |")
        print("|---|---:|---:|---:|---:|---:|")
        base = rows[-1][1]["wall_s"]
        for label, r in rows:
            ok, turns = r["first_try"]
            tokens = completion_tokens(r["summary"])
            print(
                f"| {label} | {r['wall_s']:.1f} | {tokens} | {tokens / r['wall_s']:.1f} | "
                f"{ok}/{turns} ({ok / max(turns, 1):.0%}) | {base / r['wall_s']:.2f}x |"
            )
        trows = template_rows(args, Path(tmp))
        print(f"\nTemplate job, {args.template_docs} documents, whole process each (model load included)")
        print("| runner | wall s | docs | docs/s | ratio |")
        print("|---|---:|---:|---:|---:|")
        peer = trows[-1][2] / trows[-1][1]
        for label, wall, docs in trows:
            print(f"| {label} | {wall:.1f} | {docs} | {docs / wall:.2f} | {docs / wall / peer:.2f}x |")


if __name__ == "__main__":
    main()
