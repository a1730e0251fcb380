"""The README's journey on the embedded model: `make demo`'s settings, then clean, stats and push.

The corpus the demo makes must survive `metasynth clean` (issue 28: it used to end in an empty
dataset), and every later step must take the cleaned folder. Three documents of recipes/demo.yaml
(about 1.5 minutes of generation on 2 free cores; `stats` needs two that survive cleaning); push is
a dry run, staged locally.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metasynth_hf.cli import main

pytestmark = pytest.mark.slow
DEMO = Path(__file__).resolve().parents[1] / "recipes" / "demo.yaml"


def test_demo_then_clean_stats_and_push_keep_documents(tmp_path, capsys):
    raw, clean = tmp_path / "corpus" / "finance", tmp_path / "corpus" / "finance-clean"
    assert main(["generate", "--config", str(DEMO), "--num-docs", "3", "--out", str(raw), "--no-progress"]) == 0
    capsys.readouterr()
    records = [json.loads(line) for line in (raw / "shard-00000-of-00001.jsonl").read_text().splitlines()]
    truncated = {r["id"] for r in records if json.loads(r["provenance"])["status"] == "truncated"}
    assert len(records) == 3 and len(truncated) <= 1  # most documents end at a full sentence

    assert main(["clean", str(raw), "--out", str(clean)]) == 0, capsys.readouterr().err
    report = json.loads((clean / "clean_report.json").read_text())
    assert report["kept_documents"] >= 2, report["removed_by_rule"]
    import pyarrow.parquet as pq

    removed = pq.read_table(clean / "removed.parquet").to_pylist()
    assert truncated <= {r["id"] for r in removed}  # clean sees what generation flagged

    stats = tmp_path / "stats"
    argv = ["stats", str(clean), "--out", str(stats), "--metrics", "compression_ratio,ngram_diversity"]
    assert main([*argv, "--no-plots", "--no-progress"]) == 0
    assert (stats / "diversity.json").is_file()

    staged = tmp_path / "staged"
    argv = ["push", str(clean), "--repo-id", "you/finance-metasynth", "--dry-run", "--staging-dir", str(staged)]
    assert main(argv) == 0
    rows = sum(pq.read_metadata(p).num_rows for p in (staged / "data").glob("*.parquet"))
    assert rows == report["kept_documents"] and (staged / "README.md").is_file()
