"""`metasynth train` forwards the recipe and TRL options to the same parser as `python -m`."""

from __future__ import annotations

import argparse

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
