"""The benchmark recipe names real lm-eval tasks and builds commands lm-eval's CLI accepts."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest
import yaml

from .conftest import RECIPES, REPO

SUITES = yaml.safe_load((RECIPES / "eval" / "tasks.yaml").read_text())["suites"]


@pytest.fixture(scope="module")
def lm_eval_tasks() -> set[str]:
    """Every task and group lm-eval indexes locally (no download)."""
    from lm_eval.tasks import TaskManager

    return set(TaskManager().all_tasks)


@pytest.mark.slow  # lm-eval indexes ~15k task files
def test_every_suite_task_exists_in_lm_eval(lm_eval_tasks) -> None:
    assert {"finance", "biomedicine", "general"} <= set(SUITES)
    missing = {t for suite in SUITES.values() for t in suite["tasks"] if t not in lm_eval_tasks}
    assert not missing, f"not lm-eval tasks: {sorted(missing)}"
    assert "made_up_task" not in lm_eval_tasks  # the check can fail


def test_commands_parse_with_lm_evals_own_cli() -> None:
    from lm_eval._cli import HarnessCLI

    env = {**os.environ, "DRY_RUN": "1", "PYTHON": sys.executable, "OUT": "results"}
    script = RECIPES / "eval" / "lm_eval.sh"
    done = subprocess.run(
        ["bash", str(script), "outputs/m", *SUITES, "--", "--limit", "5"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == len(SUITES)
    for line, (name, suite) in zip(lines, SUITES.items(), strict=True):
        argv = shlex.split(line)
        assert argv[0] == "lm_eval"
        args = HarnessCLI()._parser.parse_args(["run", *argv[1:]])
        assert args.tasks == suite["tasks"]  # lm-eval splits the comma list itself
        assert int(args.num_fewshot) == suite["num_fewshot"] and float(args.limit) == 5
        assert args.model_args == {"pretrained": "outputs/m", "dtype": "bfloat16"}
        assert str(args.output_path) == f"results/{name}"
