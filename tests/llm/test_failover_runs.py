"""Whole `metasynth generate` runs through a fault proxy: transient failures cost seconds, a
permanent failure is reported within the retry budget, and the error says each endpoint's state."""

from __future__ import annotations

import json
import time

import pytest

from metasynth_hf.cli import main
from tests.support.fault_proxy import FaultProxy
from tests.support.stub_server import StubServer

TEXT = "Collateral schedules shifted as the clearing house raised its margin calls for the quarter. " * 3
pytestmark = pytest.mark.slow  # ~45 s of real waiting on loopback servers

PROBES = [("pass",)] * 3  # reachability (/v1/models) and identity (/info, /v1/models) before the first call


def generate(url: str, out, *extra: str) -> tuple[int, float]:
    started = time.monotonic()
    code = main(
        [
            "generate",
            "--method",
            "template",
            "--num-docs",
            "20",
            "--lanes",
            "4",
            "--endpoint",
            url,
            "--out",
            str(out),
            "--no-progress",
            *extra,
        ]
    )
    return code, time.monotonic() - started


@pytest.fixture(scope="module")
def server():
    with StubServer("stub", TEXT, delay_s=1.0) as s:  # a clean run of ~6 s: Retry-After 2 twice is 4 s of it
        yield s


@pytest.fixture(scope="module")
def clean_seconds(server, tmp_path_factory):
    with FaultProxy(server.url) as proxy:
        code, seconds = generate(proxy.url, tmp_path_factory.mktemp("clean"))
    assert code == 0
    return seconds


@pytest.mark.parametrize(
    "fault",
    [("status", 429, {"Retry-After": "2"}), ("status", 503), ("status", 500), ("reset",)],
    ids=["429-retry-after-2", "503", "500", "reset"],
)
def test_eight_transient_failures_cost_at_most_the_clean_run_again(server, clean_seconds, fault, tmp_path):
    with FaultProxy(server.url, PROBES + [fault] * 8) as proxy:
        code, seconds = generate(proxy.url, tmp_path)
        assert proxy.by_action.get(fault[0]) == 8
    assert code == 0
    assert seconds <= 2 * clean_seconds + 1.0, (seconds, clean_seconds)  # was 154 s before
    records = (tmp_path / "shard-00000-of-00001.jsonl").read_text().splitlines()
    assert len(records) == 20 and all(json.loads(r)["text"].startswith("Collateral") for r in records)


@pytest.mark.parametrize("fault", [("status", 503), ("reset",)], ids=["503", "dead-connection"])
def test_a_permanent_failure_is_reported_within_the_budget(server, fault, tmp_path, capsys):
    budget = 4.0
    with FaultProxy(server.url, PROBES + [fault] * 10_000) as proxy:
        code, seconds = generate(
            proxy.url,
            tmp_path,
            "--set",
            f"conductor.retry.budget_s={budget}",
            "--set",
            "conductor.retry.max_attempts=1000",
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and seconds < budget + 4.0, seconds  # was 543 s (503) and 579 s (dead port)
    assert len(err) == 1 and "retry.budget_s=4 s ran out" in err[0]
    assert f"{proxy.url}: " in err[0] and "consecutive failure" in err[0]  # the endpoint's real state
    assert "benched" not in err[0]  # the only endpoint is never benched


def test_an_attempt_in_flight_is_cut_at_the_deadline(tmp_path, capsys):
    with StubServer("slow", TEXT, delay_s=30.0) as slow:
        code, seconds = generate(slow.url, tmp_path, "--set", "conductor.retry.budget_s=2")
    assert code == 1 and seconds < 8.0, seconds  # not the server's 30 s, nor the 300 s timeout
    assert "retry.budget_s=2 s ran out" in capsys.readouterr().err
