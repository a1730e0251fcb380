"""`metasynth generate` against servers written from TGI's and vLLM's source: their limits,
back-pressure and structured output, as a user meets them (whole CLI processes).

1. **stated cap**: a TGI whose /info says `max_concurrent_requests = A`; a template run with
   8 A lanes. The run starts at A in flight and stays there.
2. **hidden cap**: the same TGI says 128, but other clients take its capacity as the run starts
   (it admits only A): 429 "Model is overloaded", no Retry-After. The run lowers its concurrency.
   In both, the server's capacity time is requests / (A / latency); the figure is the run's
   generation time (from its summary) over it: <= 1.2 is the target.
3. **MetaSynth on TGI and on vLLM**: 16 lanes; the share of conductor calls the server
   constrained to the turn schema (target 100%) and the share of turns the conductor decided.

    python benchmarks/bench_server_limits.py --docs 400 --admits 4 --latency-ms 100
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.replies import TurnWriter  # noqa: E402 - the repository root first
from tests.support.tgi_server import TgiServer  # noqa: E402
from tests.support.vllm_server import VllmServer  # noqa: E402

TEXT = "Invoice financing filled the gap when regional banks tightened lending to small firms."


def generate(url: str, out: Path, *args: str) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "metasynth_hf.cli", "generate", "--endpoint", url, "--out", str(out)]
    cmd += ["--no-progress", "--set", "instance_table.embedder=hashing", *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    summary = json.loads((out / "summary-00000-of-00001.json").read_text())
    if done.returncode != 0:  # reported, not raised: a run that dies is a result too
        summary["failed"] = done.stderr.strip().splitlines()[-1][:300]
    return seconds, summary


def summary_head(summary: dict) -> dict:
    return {"documents": summary["documents"], "failed": summary["failed"], "generation_s": summary["wall_time_s"]}


def endpoint_report(summary: dict) -> dict:
    (backend,) = summary["backends"].values()
    (report,) = backend["endpoints"].values()
    return report


def capped_run(args, hidden: bool, tmp: Path) -> dict:
    latency = args.latency_ms / 1000
    taken = threading.Event()

    def content(body: dict) -> str:
        if hidden and not taken.is_set():
            taken.set()
            server.set(max_concurrent_requests=args.admits)  # other clients took the rest
        return TEXT

    stated = 128 if hidden else args.admits
    with TgiServer(content=content, max_concurrent_requests=stated, latency_s=latency) as server:
        lanes = 8 * args.admits
        wall, summary = generate(
            server.url, tmp / f"template-{hidden}", "--method", "template", "--num-docs", str(args.docs),
            "--lanes", str(lanes),
        )  # fmt: skip
        statuses = dict(server.status_counts)
        peak = server.peak_in_flight
    capacity = args.docs / (args.admits / latency)
    if "failed" in summary:
        return {
            "case": "hidden cap (429s)" if hidden else "stated cap (/info)",
            "lanes": lanes,
            **summary_head(summary),
        }
    report = endpoint_report(summary)
    return {
        "case": "hidden cap (429s)" if hidden else "stated cap (/info)",
        "lanes": lanes,
        "documents": summary["documents"],
        "generation_s": summary["wall_time_s"],
        "process_s": round(wall, 2),
        "capacity_s": round(capacity, 2),
        "ratio": round(summary["wall_time_s"] / capacity, 3),
        "server_peak_in_flight": peak,
        "statuses": statuses,
        "admitted_at_end": report["concurrency"]["admitted"],
        "overloads": report["concurrency"]["overloads"],
    }


def metasynth_run(server_class, args, tmp: Path) -> dict:
    with server_class(content=TurnWriter(), latency_s=args.latency_ms / 1000) as server:
        wall, summary = generate(
            server.url, tmp / server_class.__name__, "--method", "metasynth", "--num-docs", str(args.metasynth_docs),
            "--lanes", "16",
        )  # fmt: skip
    if "failed" in summary:
        return {"server": server_class.__name__, **summary_head(summary)}
    report = endpoint_report(summary)
    calls = report["structured_calls"]
    conductor = summary["by_role"]["conductor"]["calls"]
    return {
        "server": report["server_kind"],
        "structured_output": report["structured_output"],
        "documents": summary["documents"],
        "conductor_calls": conductor,
        "constrained_share": round(calls["constrained"] / conductor, 3),
        "unconstrained": calls["unconstrained"],
        "refused": calls["rejected"],
        "conductor_turn_share": summary["agency"].get("conductor_turn_share"),
        "process_s": round(wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--admits", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--metasynth-docs", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [capped_run(args, hidden, Path(tmp)) for hidden in (False, True)]
        for row in rows:
            print(json.dumps(row))
        for server_class in (TgiServer, VllmServer):
            print(json.dumps(metasynth_run(server_class, args, Path(tmp))))


if __name__ == "__main__":
    main()
