"""`metasynth train` forwards the recipe and TRL options to the same parser as `python -m`."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from metasynth_hf import cli
from metasynth_hf.commands import train
from metasynth_hf.training import cpt


def parse_like_cli(argv: list[str]) -> argparse.Namespace:
    """A parser shaped like metasynth's: a `train` subcommand filled by `add_arguments`."""
    parser = argparse.ArgumentParser(prog="metasynth")
    sub = parser.add_subparsers(dest="command")
    train.add_arguments(sub.add_parser("train"))
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    ("argv", "forwarded"),
    [
        (["train", "--config", "r.yaml"], ["--config", "r.yaml"]),
        (
            ["train", "--config", "r.yaml", "--", "--max_steps", "3", "--packing"],
            ["--config", "r.yaml", "--max_steps", "3", "--packing"],
        ),
    ],
)
def test_options_after_double_dash_reach_the_trl_parser(argv, forwarded, monkeypatch) -> None:
    seen = []
    monkeypatch.setattr(cpt, "main", lambda args: seen.append(args) or 0)
    assert train.run(parse_like_cli(argv)) == 0
    assert seen == [forwarded]


def test_train_is_a_metasynth_subcommand() -> None:
    assert cli.SUBCOMMANDS["train"][0] == "metasynth_hf.commands.train"


def test_add_arguments_does_not_import_training_libraries() -> None:
    """`metasynth --help` builds every subparser: ours must stay cheap."""
    import subprocess
    import sys

    code = (
        "import argparse, sys; from metasynth_hf.commands import train; "
        "train.add_arguments(argparse.ArgumentParser()); "
        "print(sorted(m for m in ('torch', 'trl', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (["--bogus-flag"], "unknown option --bogus-flag: not one of the fields of TRL's ScriptArguments"),
        (["--learning_rte", "0.1"], "unknown option --learning_rte (did you mean --learning_rate?)"),
        (["--max_steps", "four"], "argument --max_steps/--max-steps: invalid int value: 'four'"),
    ],
    ids=["unknown", "near-miss", "bad-value"],
)
def test_a_mistyped_training_option_is_one_line_naming_it(option, said, capsys) -> None:
    """Through `metasynth`'s own entry point: no traceback, no 300-option usage."""
    recipe = str(Path(__file__).resolve().parents[2] / "recipes" / "tiny" / "cpt.yaml")
    assert cli.main(["train", "--config", recipe, *option]) == 1
    line = one_error_line(capsys)
    assert line.startswith("metasynth train: error: ") and said in line


def test_an_unknown_recipe_key_is_one_line_with_the_nearest_field(tmp_path, capsys) -> None:
    recipe = tmp_path / "cpt.yaml"
    recipe.write_text((Path(__file__).resolve().parents[2] / "recipes" / "tiny" / "cpt.yaml").read_text() + "lr: 1\n")
    recipe.write_text(recipe.read_text() + "learning_rte: 1.0e-4\n")
    assert cli.main(["train", "--config", str(recipe)]) == 1
    line = one_error_line(capsys)
    assert f"{recipe}: unknown key lr, learning_rte (did you mean learning_rate?)" in line
