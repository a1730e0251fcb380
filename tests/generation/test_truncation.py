"""A document whose text was cut at max_tokens is recorded `truncated`, in every method.

Against a real OpenAI-format HTTP server on loopback (tests/support/stub_server.py) that acts
like a server with a token cap: it answers 40 words of prose, cut to the request's `max_tokens`
words with `finish_reason: "length"` when they do not fit (keyed by the sampling settings,
never by prompt wording). The embedded model's own cut is covered in test_real_model.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metasynth_hf.cli import main
from tests.generation.fakes import ScriptedModel, default_answer
from tests.generation.helpers import read_records, run, shard_bytes
from tests.support.stub_server import StubServer

SENTENCES = (  # 10 words each
    "Treasury desks moved collateral between custodians as repo rates rose.",
    "Pension funds trimmed duration once the yield curve steepened again.",
    "Clearing houses raised haircuts on sovereign bonds after the auction.",
    "Regional banks tapped the discount window to cover deposit outflows.",
)
WORDS = " ".join(SENTENCES).split()


def capped(body: dict) -> str:
    return " ".join(WORDS[: body.get("max_tokens") or len(WORDS)])


def finish(body: dict) -> str:
    return "length" if (body.get("max_tokens") or len(WORDS)) < len(WORDS) else "stop"


@pytest.fixture(scope="module")
def server():
    with StubServer("stub", capped, finish_reason=finish) as s:
        yield s


def generate(server, out: Path, *extra: str) -> int:
    argv = ["generate", "--endpoint", server.url, "--out", str(out), "--num-docs", "2", "--no-progress"]
    return main([*argv, "--set", "instance_table.embedder=hashing", *extra])


def statuses(out: Path) -> list[str]:
    return [r["prov"]["status"] for r in read_records(out)]


def test_a_template_document_cut_at_max_tokens_is_truncated_and_said(server, tmp_path, capsys):
    assert generate(server, tmp_path / "cut", "--method", "template", "--set", "expert_sampling.max_tokens=25") == 0
    out, err = capsys.readouterr()
    assert statuses(tmp_path / "cut") == ["truncated", "truncated"]
    assert json.loads(out[: out.rindex("}") + 1])["statuses"] == {"truncated": 2}
    assert "2 of 2 documents stop mid-sentence where expert_sampling.max_tokens=25 cut them" in err
    assert "artefacts.unfinished_ending" in err
    # room for the whole answer: final, and no truncation line
    assert generate(server, tmp_path / "whole", "--method", "template", "--set", "expert_sampling.max_tokens=64") == 0
    assert statuses(tmp_path / "whole") == ["final", "final"]
    assert "stop mid-sentence" not in capsys.readouterr().err


def test_a_cached_cut_reply_is_still_truncated_byte_for_byte(server, tmp_path, capsys):
    """The response cache keeps `finish_reason`: a rerun from it writes the same records."""
    cache = str(tmp_path / "cache.sqlite")
    cut = ["--method", "template", "--set", "expert_sampling.max_tokens=25", "--cache", cache]
    assert generate(server, tmp_path / "first", *cut) == 0
    paid = server.chat_requests
    assert generate(server, tmp_path / "again", *cut) == 0
    assert server.chat_requests == paid  # every reply came from the cache
    assert statuses(tmp_path / "again") == ["truncated", "truncated"]
    assert shard_bytes(tmp_path / "again") == shard_bytes(tmp_path / "first")


def test_a_word_cap_that_drops_the_cut_end_leaves_a_finished_document(server, tmp_path, capsys):
    """stop.max_words cuts back to the last full sentence: the max_tokens cut is no longer in it
    (what recipes/demo.yaml relies on)."""
    extra = ["--method", "template", "--set", "expert_sampling.max_tokens=25", "--set", "stop.max_words=22"]
    assert generate(server, tmp_path / "whole", *extra) == 0
    records = read_records(tmp_path / "whole")
    assert [r["prov"]["status"] for r in records] == ["final", "final"]
    assert all(r["text"] == " ".join(SENTENCES[:2]) for r in records)
    # a word cap with no sentence end to go back to cuts mid-sentence too
    assert generate(server, tmp_path / "mid", *extra[:2], "--set", "stop.max_words=8") == 0
    assert statuses(tmp_path / "mid") == ["truncated", "truncated"]
    assert "or stop.max_words=8 cut them" in capsys.readouterr().err


def test_a_metasynth_document_whose_last_draft_was_cut_is_truncated(server, tmp_path, capsys):
    extra = ["--set", "expert_sampling.max_tokens=25", "--set", "conductor_sampling.max_tokens=64"]
    assert generate(server, tmp_path, "--max-turns", "4", *extra) == 0
    for record in read_records(tmp_path):
        prov = record["prov"]
        assert prov["status"] == "truncated" and prov["final_source"] == "draft"
        assert prov["agency"]["final_by"] in ("max_turns", "scaffold")  # how the loop ended is kept
        assert not record["text"].endswith(".")
    assert "2 of 2 documents stop mid-sentence where expert_sampling.max_tokens=25 cut them" in capsys.readouterr().err


def test_an_instruct_pair_whose_response_was_cut_is_truncated(server, tmp_path, capsys):
    assert generate(server, tmp_path / "docs", "--method", "template") == 0
    extra = [
        "--method",
        "instruct",
        "--set",
        f"instruct.source={tmp_path / 'docs'}",
        "--set",
        "instruct.rounds=0",
        "--set",
        "instruct.max_turns=2",
    ]
    assert generate(server, tmp_path / "cut", *extra, "--set", "expert_sampling.max_tokens=30") == 0
    assert statuses(tmp_path / "cut") == ["truncated", "truncated"]
    assert generate(server, tmp_path / "whole", *extra, "--set", "expert_sampling.max_tokens=64") == 0
    assert "truncated" not in statuses(tmp_path / "whole")


@pytest.mark.parametrize(("cut_drafts", "status"), [((2,), "final"), ((1, 2), "truncated")])
def test_the_final_text_is_the_latest_draft_not_cut_mid_sentence(tmp_path, cut_drafts, status):
    """Scaffold logic, on the scripted model: the plan writes a draft, then revises it. A revision
    cut at max_tokens loses to the finished draft before it; when every draft was cut, the last one
    is kept and the document is `truncated`."""
    drafts = []

    def answer(role, messages, params):
        text = default_answer(role, messages, params)
        if role == "domain_expert":
            drafts.append(text)
            if len(drafts) in cut_drafts:
                text = text.rstrip(".") + " and the"
        return text

    def finish(role, text):
        return "length" if role == "domain_expert" and text.endswith(" and the") else "stop"

    _, records = run(tmp_path, ScriptedModel(answer, finish=finish), num_docs=1, lanes=1)
    prov = records[0]["prov"]
    assert [t["expert"] for t in prov["turns"] if t.get("expert") == "domain_expert"] == ["domain_expert"] * 2
    assert prov["status"] == status and prov["final_source"] == "draft"
    expected = drafts[0] if status == "final" else drafts[1].rstrip(".") + " and the"
    assert records[0]["text"] == expected
