"""Stopping `metasynth generate` with a signal: Ctrl-C, SIGTERM, SIGUSR1 (Slurm's pre-emption warning).

Each stops the run cleanly: the shard is closed and its summary written, one line says what
happened (on its own line, not after the progress bar), the exit status says the run did not
finish, and the same command resumes. Real signals to a real `metasynth generate` process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.stub_server import StubServer

TEXT = "Treasury desks moved collateral between custodians as repo rates rose for the third week. " * 3
DEMO = Path(__file__).parents[1] / "recipes" / "demo.yaml"
RESUME_LINE = "finished work is kept, rerun the same command to resume"


class Generate:
    """`metasynth generate ARGS` in a subprocess, its stderr read as it comes (the bar's live lines)."""

    def __init__(self, *argv: str):
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "metasynth_hf.cli", "generate", *argv]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.err = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        while chunk := self.process.stderr.read1(4096):
            self.err += chunk

    def wait_for(self, ready, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready() and self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.process.poll() is None, f"exited before the signal: {self.stderr[-2000:]}"
        assert ready(), f"not ready in {timeout_s} s: {self.stderr[-2000:]}"

    def stop(self, signum: int, timeout_s: float = 120) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout_s)
        self._reader.join(10)
        return code

    @property
    def stderr(self) -> str:
        return self.err.decode(errors="replace")


def own_line(stderr: str, text: str) -> bool:
    """`text` starts a line of its own: after a newline, not after the bar's carriage return."""
    return any(line.startswith(text) for line in stderr.split("\n"))


@pytest.mark.slow
def test_ctrl_c_mid_decode_on_a_busy_machine_exits_130_without_a_crash_and_resumes(tmp_path):
    """The embedded model, the CPU kept busy beside it, and a Ctrl-C while llama.cpp decodes, 3 times.
    Before the fix the interpreter exited under that decode: SIGSEGV (exit 139) after the message.
    Round r (num_docs r + 1) resumes the r - 1 documents kept so far, makes one more, and is
    interrupted 0.3 s into the next one's call (the model loaded, its prompt decoding)."""
    out = tmp_path / "corpus"
    # demo.yaml's sizes, as a template run: one call a document, so one finishes in seconds.
    base = ["--config", str(DEMO), "--method", "template", "--lanes", "1", "--out", str(out)]
    base += ["--set", "expert_sampling.max_tokens=12", "--set", "target_words=60"]
    base += ["--set", "conductor.parallel=2", "--set", "conductor.context_tokens=1024"]
    shard = out / "shard-00000-of-00001.jsonl"
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        for kept in range(3):
            run = Generate(*base, "--num-docs", str(kept + 2))
            run.wait_for(lambda kept=kept: shard.is_file() and shard.read_text().count("\n") > kept)
            time.sleep(0.3)
            code = run.stop(signal.SIGINT)
            assert code == 130, run.stderr[-2000:]  # not -11 / 139
            assert "Segmentation fault" not in run.stderr
            assert own_line(run.stderr, f"metasynth generate: interrupted; {RESUME_LINE}"), run.stderr[-500:]
            assert shard.read_text().count("\n") == kept + 1  # finished documents kept, none torn
    finally:
        busy.kill()
        busy.wait()
    again = subprocess.run(
        [sys.executable, "-m", "metasynth_hf.cli", "generate", *base, "--num-docs", "3", "--no-progress"],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    summary = json.loads(again.stdout)
    assert (summary["documents"], summary["resumed"], summary["generated"]) == (3, 3, 0)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGUSR1, 138)])
def test_sigterm_and_sigusr1_stop_cleanly_with_a_summary_and_the_rerun_resumes(tmp_path, signum, code):
    """What Slurm sends at pre-emption (SIGUSR1 first with --signal, then SIGTERM): the summary is
    written, one line says so, the exit status is 128 + the signal (the run did not finish), and a
    requeued job running the same command resumes."""
    out = tmp_path / "corpus"
    with StubServer("slow", TEXT, delay_s=0.5) as server:
        argv = ["--method", "template", "--num-docs", "20", "--lanes", "1", "--endpoint", server.url]
        argv += ["--out", str(out)]
        shard = out / "shard-00000-of-00001.jsonl"
        run = Generate(*argv)
        run.wait_for(lambda: shard.is_file() and shard.read_text().count("\n") >= 2)
        assert run.stop(signum) == code, run.stderr[-2000:]
        name = signal.Signals(signum).name
        assert own_line(run.stderr, f"metasynth generate: stopped by {name}; {RESUME_LINE}"), run.stderr[-500:]
        summary = json.loads((out / "summary-00000-of-00001.json").read_text())
        kept = shard.read_text().count("\n")
        assert 2 <= summary["documents"] == kept < 20
        assert name in summary["error"]  # the summary says the run stopped early, and why
        server.set(delay_s=0.0)
        again = subprocess.run(
            [sys.executable, "-m", "metasynth_hf.cli", "generate", *argv, "--no-progress"],
            capture_output=True,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            timeout=120,
        )
    assert again.returncode == 0, again.stderr[-2000:]
    result = json.loads(again.stdout)
    assert (result["documents"], result["resumed"]) == (20, kept)


def test_the_signal_handlers_are_removed_after_the_run():
    import asyncio

    from metasynth_hf.signals import until_signalled

    async def nothing() -> int:
        return 7

    assert asyncio.run(until_signalled(nothing())) == 7
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
