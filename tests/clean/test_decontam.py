"""Planted benchmark passages are removed and listed; near-misses are kept."""

from __future__ import annotations

import json
import random

import pytest

from metasynth_hf.clean import CleanConfig, clean_corpus
from metasynth_hf.errors import ConfigError
from tests.clean.textgen import corpus, document

QUESTIONS = [
    {
        "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?",
        "answer": "Natalia sold 48/2 = 24 clips in May. Natalia sold 48+24 = 72 clips altogether in April and May. #### 72",
    },
    {
        "question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?",
        "answer": "Weng earns 12/60 = $0.2 per minute. Working 50 minutes, she earned 0.2 x 50 = $10. #### 10",
    },
    {"question": "Which organ filters blood in the human body?", "answer": "the kidney"},
]


@pytest.fixture()
def eval_file(tmp_path):
    path = tmp_path / "gsm_test.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path


def decontam_only(path, **extra) -> CleanConfig:
    section = {"eval_sets": [{"name": "gsm", "path": str(path)}], **extra}
    return CleanConfig.all_off().model_copy(
        update={"decontamination": CleanConfig().decontamination.model_validate(section)}
    )


def with_passage(passage: str, seed: int) -> str:
    rng = random.Random(seed)
    body = document(rng).split("\n\n")
    body.insert(2, passage)
    return "\n\n".join(body)


def test_planted_passages_are_removed_with_their_source(eval_file):
    docs = corpus(30, seed=8)
    # casing and punctuation changes do not hide a leak
    leaked = QUESTIONS[0]["question"].upper().replace(",", "")
    docs.append({"id": "leak-q", "text": with_passage(leaked, 1)})
    docs.append({"id": "leak-a", "text": with_passage("So: " + QUESTIONS[1]["answer"], 2)})
    result = clean_corpus(docs, decontam_only(eval_file))
    removed = {r["id"]: r for r in result.removed}
    assert set(removed) == {"leak-q", "leak-a"}
    assert removed["leak-q"]["clean_rule"] == "decontamination.gsm"
    assert "gsm#0.question" in removed["leak-q"]["clean_detail"]
    assert "gsm#1.answer" in removed["leak-a"]["clean_detail"]
    assert len(result.kept) == 30
    assert result.report["eval_sets"] == [{"name": "gsm", "passages": 5, "too_short": 1}]


def test_short_passage_matches_whole_and_shorter_overlap_is_kept(eval_file):
    short = QUESTIONS[2]["question"]  # 8 words: matched as one 8-gram
    partial = " ".join(QUESTIONS[0]["question"].split()[:10])  # 10 < 13 shared words
    docs = [
        {"id": "short", "text": with_passage(short, 3)},
        {"id": "partial", "text": with_passage(partial + " is a phrase we saw.", 4)},
    ]
    result = clean_corpus(docs, decontam_only(eval_file))
    assert [r["id"] for r in result.removed] == ["short"]


def test_min_matches_requires_several_ngrams(eval_file):
    docs = [{"id": "leak", "text": with_passage(QUESTIONS[1]["question"], 5)}]
    assert clean_corpus(docs, decontam_only(eval_file, min_matches=1)).removed
    assert not clean_corpus(docs, decontam_only(eval_file, min_matches=100)).removed


def test_txt_and_parquet_eval_sets_and_field_selection(tmp_path):
    import datasets

    txt = tmp_path / "passages.txt"
    txt.write_text(QUESTIONS[0]["question"] + "\n\n" + QUESTIONS[1]["question"] + "\n", encoding="utf-8")
    parquet = tmp_path / "evals" / "test.parquet"
    parquet.parent.mkdir()
    datasets.Dataset.from_list(QUESTIONS).to_parquet(str(parquet))
    config = CleanConfig.all_off().model_copy(
        update={
            "decontamination": CleanConfig().decontamination.model_validate(
                {
                    "eval_sets": [
                        {"path": str(txt)},
                        {"name": "answers", "path": str(parquet.parent), "fields": ["answer"]},
                    ]
                }
            )
        }
    )
    docs = [
        {"id": "q0", "text": with_passage(QUESTIONS[0]["question"], 6)},
        {"id": "a1", "text": with_passage(QUESTIONS[1]["answer"], 7)},
        {
            "id": "q2",
            "text": with_passage(QUESTIONS[2]["question"], 8),
        },  # not indexed: only answers
    ]
    result = clean_corpus(docs, config)
    assert {r["id"]: r["clean_rule"] for r in result.removed} == {
        "q0": "decontamination.passages.txt",
        "a1": "decontamination.answers",
    }


def test_bad_eval_sets_fail_with_the_fix(tmp_path, eval_file):
    with pytest.raises(ConfigError, match="fields \\['prompt'\\] not found"):
        clean_corpus(
            [],
            decontam_only(eval_file).model_copy(
                update={
                    "decontamination": CleanConfig().decontamination.model_validate(
                        {"eval_sets": [{"path": str(eval_file), "fields": ["prompt"]}]}
                    )
                }
            ),
        )
    with pytest.raises(ConfigError, match="cannot load 'no-such-org/no-such-set'"):
        clean_corpus([], decontam_only("no-such-org/no-such-set"))
