"""The README's pipeline on a corpus that cleaning empties: every step says so in one line.

`metasynth clean` that keeps nothing exits 1 with the reasons; `stats`, `push` and `train` on
the emptied folder name it, the rules that removed its documents (from its clean_report.json)
and the fix, with no traceback. Real files and the real CLI entry point; nothing is mocked.
"""

from __future__ import annotations

import json

import pytest

from metasynth_hf.cli import main
from tests.support.runs import make_run_dir
from tests.train.conftest import RECIPES

SENTENCES = [
    "Regional banks tapped the discount window as deposits left for money market funds.",
    "Pension trustees lengthened duration once long yields climbed above their liabilities' discount rate.",
    "Clearing houses raised haircuts on sovereign collateral after a weak auction.",
    "Credit analysts read covenants and interest coverage before they extend a revolving facility.",
    "Insurers matched annuity payments with laddered corporate bonds and a cash buffer.",
    "Treasury desks moved collateral between custodians while repo rates rose for a third week.",
]


def unfinished_run(tmp_path, n: int = 4):
    """A generate output dir whose documents stop mid-sentence, as max_tokens leaves them."""
    run = make_run_dir(tmp_path / "finance", n=n, shards=1)
    shard = run / "shard-00000-of-00001.jsonl"
    records = [json.loads(line) for line in shard.read_text().splitlines()]
    for i, record in enumerate(records):
        text = " ".join(SENTENCES[i:] + SENTENCES[:i])  # distinct documents of ~80 words
        record["text"] = f"{text} Analysts at {i + 1} firms then said that the"
    shard.write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def emptied(tmp_path, capsys):
    """`metasynth clean` of the unfinished run: the folder it leaves, and what it printed."""
    out = tmp_path / "finance-clean"
    assert main(["clean", str(unfinished_run(tmp_path)), "--out", str(out)]) == 1
    return out, capsys.readouterr()


def test_clean_that_keeps_nothing_exits_1_with_the_reasons(emptied):
    out, printed = emptied
    assert "kept 0 of 4 documents" in printed.out and "artefacts.unfinished_ending: 4" in printed.out
    line = one_line(printed.err)
    assert line.startswith("metasynth clean: error: kept none of the 4 documents of ")
    assert "(artefacts.unfinished_ending: 4; report " in line and str(out / "clean_report.json") in line
    assert "expert_sampling.max_tokens" in line and "--set artefacts.unfinished_ending=false" in line
    # the result is still written: the report and the removed rows say why
    assert json.loads((out / "clean_report.json").read_text())["kept_documents"] == 0
    assert (out / "removed.parquet").is_file()


def expect_empty_corpus_error(line: str, command: str, out) -> None:
    assert line.startswith(f"metasynth {command}: error: ") and f"'{out}' holds no documents" in line
    assert "`metasynth clean` removed all 4 (artefacts.unfinished_ending: 4; see " in line
    assert str(out / "clean_report.json") in line and "expert_sampling.max_tokens" in line


def test_stats_of_the_emptied_corpus_is_one_line(emptied, tmp_path, capsys):
    out, _ = emptied
    assert main(["stats", str(out), "--out", str(tmp_path / "stats"), "--no-progress"]) == 1
    expect_empty_corpus_error(one_line(capsys.readouterr().err), "stats", out)


def test_push_of_the_emptied_corpus_is_one_line_and_not_generate_first(emptied, tmp_path, capsys):
    out, _ = emptied
    assert main(["push", str(out), "--repo-id", "you/finance", "--dry-run"]) == 1
    line = one_line(capsys.readouterr().err)
    expect_empty_corpus_error(line, "push", out)
    assert "run `metasynth generate` first" not in line
    assert not (out / "hub").exists()


def test_push_of_a_folder_never_generated_into_says_generate(tmp_path, capsys):
    empty = make_run_dir(tmp_path / "run", n=0, shards=1)
    assert main(["push", str(empty), "--repo-id", "you/finance", "--dry-run"]) == 1
    line = one_line(capsys.readouterr().err)
    assert "holds no documents; generate some first (`metasynth generate --out" in line


@pytest.mark.slow  # imports TRL and transformers (~20 s); no model is loaded
def test_train_on_the_emptied_corpus_is_one_line(emptied, tmp_path, capsys):
    out, _ = emptied
    recipe = str(RECIPES / "tiny" / "cpt.yaml")
    argv = ["train", "--config", recipe, "--dataset_name", str(out), "--output_dir", str(tmp_path / "cpt")]
    assert main(argv) == 1
    line = one_line(capsys.readouterr().err)
    expect_empty_corpus_error(line.replace("training data", "corpus"), "train", out)
