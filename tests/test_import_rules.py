"""Import rules of the data flow (DESIGN.md §2), read from the source with `ast`:

* the research harness (`experiments/`) stays out of the product: `hub`, `card` and the
  stages never import it;
* the stages below the generator (llm, seeds, clean, metrics, training) never import the
  generator, the Hub code, the CLI or the harness: recipes consume a corpus, not the code
  that made it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import metasynth_hf

PACKAGE = Path(metasynth_hf.__file__).parent
GENERATION = ("generation",)
UPPER = (*GENERATION, "experiments", "hub", "card", "commands", "cli", "builder")


def module_imports(path: Path) -> set[str]:
    """Every metasynth_hf module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("metasynth_hf")}


def files_of(part: str) -> list[Path]:
    target = PACKAGE / part
    return sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py")]


def offending(parts: tuple[str, ...], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    bad = {}
    for part in parts:
        for path in files_of(part):
            hits = sorted(
                m
                for m in module_imports(path)
                if any(m == f"metasynth_hf.{f}" or m.startswith(f"metasynth_hf.{f}.") for f in forbidden)
            )
            if hits:
                bad[str(path.relative_to(PACKAGE))] = hits
    return bad


def test_the_scanner_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from metasynth_hf.experiments.results import render\n")
    assert module_imports(probe) == {"metasynth_hf.experiments.results"}


def test_product_never_imports_the_research_harness():
    assert (
        offending(("hub", "card", "commands/push", "commands/generate", "commands/merge", "builder"), ("experiments",))
        == {}
    )


@pytest.mark.parametrize("stage", ["llm", "seeds", "clean", "metrics", "training"])
def test_lower_stages_never_import_the_generator_hub_or_cli(stage):
    assert offending((stage,), UPPER) == {}


def test_model_loading_never_imports_training():
    """Inference loads GGUF and checkpoints through models/causal_lm, never through training."""
    assert offending(("models", "causal_lm", "llm"), ("training", "train")) == {}


def test_generation_core_never_imports_a_method():
    """The engine, the conductor loop and friends know methods only through the registry
    (`generation.methods`, which names producers by string)."""
    core = [p.relative_to(PACKAGE).with_suffix("").as_posix() for p in (PACKAGE / "generation").glob("*.py")]
    methods = tuple(
        f"generation.methods.{p.stem}" for p in (PACKAGE / "generation/methods").glob("*.py") if p.stem != "__init__"
    )
    assert methods and offending(tuple(core), methods) == {}


def test_only_the_corpus_package_reads_shard_files_by_name():
    """Shard file names and their torn-line rule live in corpus/ (shard_files, iter_shard)."""
    outside = [p for p in PACKAGE.rglob("*.py") if "corpus" not in p.relative_to(PACKAGE).parts[:1]]
    assert [str(p.relative_to(PACKAGE)) for p in outside if "shard-*" in p.read_text(encoding="utf-8")] == []


def test_every_package_folder_has_an_init():
    """setuptools' find_packages (the wheel) skips a folder without __init__.py, though an
    editable install still imports it as a namespace package: a test run would not notice."""
    folders = {p.parent for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    assert sorted(str(f.relative_to(PACKAGE)) for f in folders if not (f / "__init__.py").is_file()) == []
