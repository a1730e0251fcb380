"""Slurm launchers: the commands they build are valid `accelerate launch` / `metasynth` calls."""

from __future__ import annotations

import os
import shlex
import subprocess

import pytest

from .conftest import RECIPES, REPO

RECIPE = "recipes/mistral-7b-v0.3/finance/cpt.yaml"


def run_script(script: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(RECIPES / script), *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_launch_slurm_builds_one_valid_command_per_node(monkeypatch) -> None:
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    env = {"SLURM_NNODES": "3", "MASTER_ADDR": "node-a", "GPUS_PER_NODE": "8", "DRY_RUN": "1"}
    config = "recipes/accelerate_configs/multi_node_zero3.yaml"
    done = run_script("launch.slurm", [RECIPE, config, "--run_name", "two words"], env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3
    for rank, line in enumerate(lines):
        argv = shlex.split(line)
        assert argv[:2] == ["accelerate", "launch"]
        args = launch_command_parser().parse_args(argv[2:])
        monkeypatch.chdir(REPO)  # the config names its ZeRO JSON relative to the root
        args, _, _ = _validate_launch_command(args)
        assert (args.num_machines, args.num_processes, args.machine_rank) == (3, 24, rank)
        assert args.main_process_ip == "node-a" and args.use_deepspeed
        assert args.module and args.training_script == "metasynth_hf.train"
        assert args.training_script_args == ["--config", RECIPE, "--run_name", "two words"]


def test_launch_slurm_command_on_two_nodes_as_text() -> None:
    """Exactly what `sbatch --nodes=2 recipes/launch.slurm RECIPE` runs on each node."""
    env = {"SLURM_NNODES": "2", "SLURM_GPUS_ON_NODE": "", "GPUS_PER_NODE": "", "MASTER_ADDR": "node-a"}
    done = run_script("launch.slurm", [RECIPE, "--learning_rate", "2e-5"], {**env, "DRY_RUN": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "accelerate launch --config_file recipes/accelerate_configs/multi_node_zero3.yaml --num_machines 2 "
        f"--num_processes 16 --machine_rank {rank} --main_process_ip node-a --main_process_port 29500 "
        f"--rdzv_backend c10d --max_restarts 0 -m metasynth_hf.train --config {RECIPE} --learning_rate 2e-5 "
        for rank in (0, 1)
    ]


def test_launch_slurm_runs_each_node_through_srun(tmp_path) -> None:
    """The real path: srun runs one task per node, each computing its own machine rank."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.txt"
    (bin_dir / "srun").write_text(
        "#!/bin/bash\nfor r in $(seq 0 $((SLURM_NNODES - 1))); do\n"
        '  while [[ "$1" == --* ]]; do shift; done\n'
        '  SLURM_PROCID=$r "$@"\ndone\n'
    )
    (bin_dir / "accelerate").write_text(f'#!/bin/bash\nprintf "%s|" "$@" >> {log}\necho >> {log}\n')
    for name in ("srun", "accelerate"):
        (bin_dir / name).chmod(0o755)
    env = {"SLURM_NNODES": "2", "MASTER_ADDR": "node-a", "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = run_script(
        "launch.slurm",
        [RECIPE, "recipes/accelerate_configs/multi_node_zero3.yaml", "--seed", "7"],
        env,
    )
    assert done.returncode == 0, done.stderr
    calls = log.read_text().strip().splitlines()
    assert [c.split("|")[c.split("|").index("--machine_rank") + 1] for c in calls] == ["0", "1"]
    assert all(c.endswith(f"--config|{RECIPE}|--seed|7|") for c in calls)


def test_launch_slurm_needs_slurm() -> None:
    done = run_script("launch.slurm", [RECIPE], {"SLURM_NNODES": "", "DRY_RUN": "1"})
    assert done.returncode != 0 and "SLURM_NNODES" in done.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {
                "SLURM_ARRAY_TASK_ID": "3",
                "SLURM_ARRAY_TASK_MAX": "7",
                "SLURM_ARRAY_TASK_COUNT": "8",
            },
            "3/8",
        ),
        (
            {
                "SLURM_ARRAY_TASK_ID": "5",
                "SLURM_ARRAY_TASK_MAX": "5",
                "SLURM_ARRAY_TASK_COUNT": "1",
                "SHARDS": "8",
            },
            "5/8",
        ),
    ],
)
def test_generate_slurm_gives_each_task_its_shard(env: dict, expected: str) -> None:
    done = run_script("generate.slurm", ["run.yaml", "--out", "data/x"], {**env, "DRY_RUN": "1"})
    assert done.returncode == 0, done.stderr
    argv = shlex.split(done.stdout)
    assert argv == [
        "metasynth",
        "generate",
        "--config",
        "run.yaml",
        "--shard",
        expected,
        "--out",
        "data/x",
    ]


def test_generate_slurm_shards_cover_every_document_once() -> None:
    shards = []
    for task in range(4):
        env = {
            "SLURM_ARRAY_TASK_ID": str(task),
            "SLURM_ARRAY_TASK_MAX": "3",
            "SLURM_ARRAY_TASK_COUNT": "4",
        }
        done = run_script("generate.slurm", ["run.yaml"], {**env, "DRY_RUN": "1"})
        shards.append(shlex.split(done.stdout)[5])
    assert shards == ["0/4", "1/4", "2/4", "3/4"]


def test_generate_slurm_refuses_a_partial_array_without_shards() -> None:
    env = {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "3", "SLURM_ARRAY_TASK_MAX": "3"}
    done = run_script("generate.slurm", ["run.yaml"], {**env, "SLURM_ARRAY_TASK_COUNT": "1", "DRY_RUN": "1"})
    assert done.returncode == 2 and "SHARDS=N" in done.stderr


def test_shell_scripts_parse() -> None:
    for script in [*RECIPES.glob("*.slurm"), *RECIPES.rglob("*.sh")]:
        done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, f"{script}: {done.stderr}"
