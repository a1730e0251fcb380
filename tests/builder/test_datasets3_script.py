"""`datasets.load_dataset("builders/metasynth", ..., trust_remote_code=True)` on datasets 3.x.

datasets 4+ refuses scripts, so this runs in a second virtual environment holding
datasets 3.6 (cached outside the repo, keyed by this file's pins); everything else
(torch, transformers, the model package) is shared with the main environment via a .pth.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PINS = ["datasets==3.6.0"]


def _ds3_venv() -> Path:
    key = hashlib.sha256(("|".join(PINS) + sys.version).encode()).hexdigest()[:12]
    root = Path(os.environ.get("METASYNTH_DS3_VENV", Path.home() / ".cache" / "metasynth-hf" / f"ds3-{key}"))
    python = root / "bin" / "python"
    if not (root / ".ready").is_file():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)], check=True)
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        Path(site, "zz_main_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
        (root / ".ready").write_text("ok\n")
    # The editable install points at this checkout (CI clones to a new place each run).
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(REPO)], check=True)
    return python


def test_builder_script_runs_under_datasets_3(tmp_path):
    python = _ds3_venv()
    script = tmp_path / "load.py"
    script.write_text(
        textwrap.dedent(
            f"""
        import datasets
        assert datasets.__version__.startswith("3."), datasets.__version__
        ds = datasets.load_dataset({str(REPO / "builders" / "metasynth")!r}, "finance-template",
                                   split="train", trust_remote_code=True, cache_dir={str(tmp_path / "cache")!r},
                                   num_docs=2, target_words=20,
                                   expert_sampling={{"max_tokens": 12, "temperature": 0.8}})
        print("IDS", ",".join(ds["id"]), "COLUMNS", ",".join(ds.column_names))
        """
        )
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([str(python), str(script)], capture_output=True, text=True, env=env, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "IDS finance-template-s0-0000000,finance-template-s0-0000001" in result.stdout
    assert "COLUMNS id,text,domain,method,seed,topic,num_tokens,provenance,instruction,response" in result.stdout
