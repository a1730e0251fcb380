"""Real text for the comparison: the stand-in text (a function in recipes/, not the package),
split into disjoint, reproducible parts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metasynth_hf.errors import ConfigError
from metasynth_hf.experiments.config import ReferenceConfig
from metasynth_hf.experiments.reference import prepare_real_text, rows_function

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "recipes" / "experiments" / "standin_text.py"
stdlib_docs = rows_function(f"{STANDIN}:stdlib_docs")
licenses = rows_function(f"{STANDIN}:licenses")


def test_stdlib_docs_are_real_labelled_prose():
    rows = stdlib_docs()
    assert len(rows) >= 200
    assert len({r["topic"] for r in rows}) >= 8
    assert len({r["text"] for r in rows}) == len(rows)
    assert all(200 <= len(r["text"]) <= 2000 and ">>>" not in r["text"] for r in rows)


def test_licence_paragraphs_exist_here():
    rows = licenses()
    assert len(rows) >= 20
    assert any("permission" in r["text"].lower() for r in rows)


def test_parts_are_disjoint_reproducible_and_written(tmp_path):
    config = ReferenceConfig(
        source=f"{STANDIN}:stdlib_docs",
        general=f"{STANDIN}:licenses",
        seed_docs=20,
        reference_docs=10,
        heldout_docs=5,
        general_docs=4,
    )
    real = prepare_real_text(config, tmp_path / "a", seed=3)
    again = prepare_real_text(config, tmp_path / "b", seed=3)
    other = prepare_real_text(config, tmp_path / "c", seed=4)
    parts = [real.seeds, real.reference, real.heldout]
    assert [len(p) for p in parts] + [len(real.general)] == [20, 10, 5, 4]
    texts = [r["text"] for p in parts for r in p]
    assert len(set(texts)) == len(texts)  # no seed or exemplar is scored as real text
    assert real.seeds == again.seeds and real.seeds != other.seeds
    lines = Path(real.files["seeds"]).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert rows == real.seeds
    assert "standin_text.py:stdlib_docs" in real.description  # no description given: the sources
    assert {r["topic"] for r in real.seeds} - {""}  # the function's topics are kept


def test_a_small_source_shrinks_the_parts(tmp_path):
    path = tmp_path / "real.jsonl"
    path.write_text("".join(json.dumps({"text": f"document number {i} " * 5}) + "\n" for i in range(12)))
    config = ReferenceConfig(source=str(path), general=None, seed_docs=20, reference_docs=10, heldout_docs=10)
    real = prepare_real_text(config, tmp_path / "out")
    assert 0 < len(real.seeds) + len(real.reference) + len(real.heldout) <= 12
    assert real.general == [] and "general" not in real.files


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("nowhere.py:rows", "nowhere.py does not exist"),
        (f"{STANDIN}:no_such_function", "defines no function 'no_such_function'"),
    ],
)
def test_a_bad_function_source_names_the_fix(tmp_path, source, match):
    with pytest.raises(ConfigError, match=match):
        prepare_real_text(ReferenceConfig(source=source), tmp_path)


def test_the_package_ships_no_stand_in_text():
    import metasynth_hf.experiments.reference as reference

    assert not hasattr(reference, "stdlib_docs") and not hasattr(reference, "licenses")
