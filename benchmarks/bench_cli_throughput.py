"""The whole CLI against the bare client, side by side in one run, on one fixed-latency server.

A loopback server (canned_openai_server.py) answers every request after DELAY ms whatever the
load, so throughput is bounded by the client process, not the model. For each C in `--levels`:

* bare: `huggingface_hub.AsyncInferenceClient` with C requests in flight, N requests, in a fresh
  Python process (timed as a whole process and over its requests only);
* ours: `metasynth generate --method template --lanes C --num-docs N` as a user runs it (whole
  process; and its generation time from the run summary): seeds, prompts, the endpoint pool,
  the response cache, provenance, the shard file and its fsyncs, the parquet export.

With `--metasynth`, the same for `--method metasynth` (the canned server answers conductor turns
with valid JSON: 4 expert calls then FINAL, plus the 2 bookkeeping calls, 11 calls a document),
compared per request. Prints docs/s, requests/s and the ratio to the bare client.

With `--distilabel PYTHON` (a venv's python that has distilabel; see peer_distilabel.py), the
same template job as a distilabel pipeline, whole process, and the ratio ours / distilabel.

    python benchmarks/bench_cli_throughput.py --docs 5000 --levels 64 256 --delay-ms 200 --metasynth \
        --distilabel /tmp/dl-venv/bin/python
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

HERE = Path(__file__).parent


def bare_main(url: str, n: int, in_flight: int) -> None:
    """Child process: N chat calls through the bare client; prints its request-only seconds."""
    from huggingface_hub import AsyncInferenceClient

    async def run() -> float:
        client = AsyncInferenceClient(base_url=url)
        gate = asyncio.Semaphore(in_flight)

        async def one(i: int) -> None:
            async with gate:
                await client.chat_completion(
                    [{"role": "user", "content": f"request {i}: write one paragraph about markets."}],
                    model="canned",
                    max_tokens=64,
                    seed=i,
                )

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - started
        await client.close()
        return elapsed

    print(json.dumps({"seconds": asyncio.run(run())}))


def timed(cmd: list[str], env: dict) -> tuple[float, str, int]:
    """Wall seconds, stdout and peak RSS (KiB, of this child alone: GNU time's %M) of one process."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "RSS_KIB=%M", *cmd], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])} ... failed:\n{done.stderr[-3000:]}")
    rss = int(done.stderr.rsplit("RSS_KIB=", 1)[1].split()[0])
    return seconds, done.stdout, rss


def ours(url: str, method: str, n: int, lanes: int, out: Path, env: dict, extra: tuple[str, ...] = ()) -> dict:
    endpoint = json.dumps([{"url": url, "max_concurrency": lanes, "server_kind": "llamacpp"}])
    cmd = [
        sys.executable,
        "-m",
        "metasynth_hf.cli",
        "generate",
        "--method",
        method,
        "--num-docs",
        str(n),
        "--lanes",
        str(lanes),
        "--out",
        str(out),
        "--no-progress",
        "--set",
        f"conductor.endpoints={endpoint}",
        "--set",
        "stop.max_turns=6",
        *extra,
    ]
    seconds, stdout, rss = timed(cmd, env)
    summary = json.loads((out / "summary-00000-of-00001.json").read_text())
    return {
        "process_s": seconds,
        "generation_s": summary["wall_time_s"],
        "calls": summary["calls"],
        "docs": summary["documents"],
        "rss_kib": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--levels", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--delay-ms", type=float, default=200)
    parser.add_argument("--port", type=int, default=18432)
    parser.add_argument("--metasynth", action="store_true", help="also measure --method metasynth")
    parser.add_argument("--metasynth-docs", type=int, default=500)
    parser.add_argument("--no-bare", action="store_true", help="only ours (e.g. a memory check at 50,000 documents)")
    parser.add_argument("--distilabel", metavar="PYTHON", help="a python with distilabel: also run the peer")
    parser.add_argument("--bare", nargs=3, metavar=("URL", "N", "C"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare_main(args.bare[0], int(args.bare[1]), int(args.bare[2]))
        return
    url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [sys.executable, str(HERE / "canned_openai_server.py"), str(args.port), str(args.delay_ms)]
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    rows = []
    try:
        from bench_client_overhead import wait_ready

        wait_ready(url)
        print(f"server: {args.delay_ms:.0f} ms per request, any load; {args.docs} template documents")
        print(
            f"{'method':>9} {'C':>4} {'bare r/s':>9} {'bare r/s (proc)':>15} {'ours doc/s':>10} "
            f"{'ours doc/s (proc)':>17} {'ratio gen':>9} {'ratio proc':>10} {'peak RSS MiB':>12}"
        )
        with tempfile.TemporaryDirectory() as tmp:
            for run_no, level in enumerate(args.levels):  # a level may repeat (to see the noise)
                runs = [("template", "template", args.docs, ())]
                if args.metasynth:  # with the default embedder (MiniLM: loading it and embedding are
                    # real per-run and per-document work) and with the hashing one (the scaffold alone)
                    runs += [
                        ("metasynth", "metasynth", args.metasynth_docs, ()),
                        ("ms-hash", "metasynth", args.metasynth_docs, ("--set", "instance_table.embedder=hashing")),
                    ]
                for label, method, n, extra in runs:
                    mine = ours(url, method, n, level, Path(tmp) / f"{label}-{level}-{run_no}", env, extra)
                    calls = mine["calls"]
                    if args.no_bare:
                        print(
                            f"{label:>9} {level:>4} {mine['docs']} docs in {mine['process_s']:.1f} s, "
                            f"peak RSS {mine['rss_kib'] / 1024:.0f} MiB"
                        )
                        continue
                    bare_env = {k: v for k, v in env.items() if k != "HF_HUB_OFFLINE"}  # the bare client obeys it
                    seconds, stdout, _ = timed(
                        [sys.executable, __file__, "--bare", url, str(calls), str(level)], bare_env
                    )
                    bare_inner = json.loads(stdout)["seconds"]
                    bare_rps, bare_proc = calls / bare_inner, calls / seconds
                    ours_rps, ours_proc = calls / mine["generation_s"], calls / mine["process_s"]
                    row = {
                        "method": label,
                        "in_flight": level,
                        "docs": mine["docs"],
                        "calls": calls,
                        "bare_rps": round(bare_rps, 1),
                        "bare_rps_process": round(bare_proc, 1),
                        "ours_docs_per_s": round(mine["docs"] / mine["generation_s"], 1),
                        "ours_docs_per_s_process": round(mine["docs"] / mine["process_s"], 1),
                        "ratio_generation": round(ours_rps / bare_rps, 3),
                        "ratio_process": round(ours_proc / bare_proc, 3),
                        "peak_rss_mib": round(mine["rss_kib"] / 1024),
                    }
                    if args.distilabel and method == "template":
                        peer_s, _, _ = timed(
                            [
                                args.distilabel,
                                str(HERE / "peer_distilabel.py"),
                                url,
                                str(n),
                                str(level),
                                str(Path(tmp) / f"distilabel-{level}-{run_no}"),
                            ],
                            bare_env,
                        )
                        row["distilabel_docs_per_s_process"] = round(n / peer_s, 1)
                        row["ratio_vs_distilabel"] = round(mine["docs"] / mine["process_s"] / (n / peer_s), 2)
                    rows.append(row)
                    print(
                        f"{label:>9} {level:>4} {bare_rps:>9.1f} {bare_proc:>15.1f} {row['ours_docs_per_s']:>10.1f} "
                        f"{row['ours_docs_per_s_process']:>17.1f} {row['ratio_generation']:>9.2f} "
                        f"{row['ratio_process']:>10.2f} {row['peak_rss_mib']:>12}"
                        + (
                            f"  distilabel {row['distilabel_docs_per_s_process']:.1f} doc/s (proc), ours "
                            f"{row['ratio_vs_distilabel']:.2f}x"
                            if "ratio_vs_distilabel" in row
                            else ""
                        )
                    )
        print(
            "ratios are per request (a MetaSynth document is 11 calls; ms-hash: MetaSynth with the hashing "
            "instance-table embedder instead of MiniLM); JSON:",
            json.dumps(rows),
        )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
