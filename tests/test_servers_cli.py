"""`metasynth generate` as a user with a TGI or vLLM deployment runs it, against servers written
from TGI's and vLLM's own source (tests/support/tgi_server.py, vllm_server.py)."""

from __future__ import annotations

import json
import threading

import pytest

from metasynth_hf.cli import main
from metasynth_hf.corpus.store import summary_path
from tests.support.replies import TurnWriter
from tests.support.tgi_server import TgiServer
from tests.support.vllm_server import VllmServer

QUIET = ["--no-progress", "--set", "instance_table.embedder=hashing"]


def _generate(tmp_path, url: str, *args: str) -> tuple[int, dict]:
    code = main(["generate", "--out", str(tmp_path), "--endpoint", url, *QUIET, *args])
    return code, json.loads(summary_path(tmp_path, 0, 1).read_text())


def _endpoint(summary: dict) -> dict:
    (backend,) = summary["backends"].values()
    (report,) = backend["endpoints"].values()
    return report


@pytest.mark.parametrize("server_class", [TgiServer, VllmServer], ids=["tgi", "vllm"])
def test_a_metasynth_run_with_8_lanes_finishes_with_every_conductor_call_constrained(tmp_path, server_class, capsys):
    """Findings 1 and 4: on TGI the run died after one document (the turn schema's bare `anyOf`
    refused with 422); on vLLM the conductor got JSON mode without the schema and decided none
    of its turns. Now both take the schema natively and the conductor decides."""
    with server_class(content=TurnWriter(), latency_s=0.01) as server:
        code, summary = _generate(tmp_path, server.url, "--method", "metasynth", "--num-docs", "8", "--lanes", "8")
    assert code == 0 and summary["documents"] == 8 and summary["error"] is None
    report = _endpoint(summary)
    calls = report["structured_calls"]
    conductor_calls = summary["by_role"]["conductor"]["calls"]
    assert calls == {"constrained": conductor_calls, "unconstrained": 0, "rejected": 0} and conductor_calls >= 8
    assert report["server_kind"] == server_class.__name__.removesuffix("Server").lower()
    assert summary["agency"]["conductor_turn_share"] > 0
    closing = capsys.readouterr().err
    assert f"{conductor_calls} constrained, 0 unconstrained" in closing


def test_a_template_run_with_lanes_8x_what_the_server_admits_finishes(tmp_path):
    """Finding 3: 32 lanes against a TGI whose capacity other clients took after the run asked
    (/info said 64, it admits 4): the 429s lower the run's concurrency; every document is made."""
    first = threading.Event()

    def content(body: dict) -> str:
        if not first.is_set():
            first.set()
            server.set(max_concurrent_requests=4)
        return "Invoice financing filled the gap when banks tightened lending to small firms."

    with TgiServer(content=content, max_concurrent_requests=64, latency_s=0.05) as server:
        code, summary = _generate(
            tmp_path, server.url, "--method", "template", "--num-docs", "200", "--lanes", "32",
            "--set", "conductor.retry.max_attempts=1",
        )  # fmt: skip
    assert code == 0 and summary["documents"] == 200 and summary["error"] is None
    assert server.status_counts[200] == 200 and server.status_counts[429] > 0
    assert server.peak_in_flight <= 4
    concurrency = _endpoint(summary)["concurrency"]
    assert concurrency["overloads"] == server.status_counts[429] and concurrency["admitted"] <= 5


def test_a_run_waits_for_a_loading_tgi(tmp_path, caplog):
    """Finding 3: TGI opens its port only after loading; the run waits with one line, then runs."""
    with TgiServer(load_delay_s=2.0) as server:
        code, summary = _generate(tmp_path, server.url, "--method", "template", "--num-docs", "2")
    assert code == 0 and summary["documents"] == 2
    waiting = [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]
    assert len(waiting) == 1 and "retry.startup_timeout_s" in waiting[0]
