"""`metasynth clean --out`: a failed run leaves nothing that blocks its own rerun."""

from __future__ import annotations

import pytest

from metasynth_hf.clean.io import DATA_DIR, REPORT_FILE, prepare_out_dir
from metasynth_hf.errors import ConfigError


def test_the_early_check_creates_nothing(tmp_path):
    out = tmp_path / "clean"
    prepare_out_dir(out, overwrite=False, check_only=True)
    assert not out.exists()


def test_an_empty_data_folder_of_a_failed_run_does_not_block_the_rerun(tmp_path):
    (tmp_path / DATA_DIR).mkdir()
    prepare_out_dir(tmp_path, overwrite=False, check_only=True)  # no error


def test_a_finished_result_is_kept_unless_overwrite(tmp_path):
    (tmp_path / DATA_DIR).mkdir()
    (tmp_path / DATA_DIR / "part-0.parquet").write_bytes(b"x")
    (tmp_path / REPORT_FILE).write_text("{}")
    with pytest.raises(ConfigError, match="--overwrite"):
        prepare_out_dir(tmp_path, overwrite=False, check_only=True)
    prepare_out_dir(tmp_path, overwrite=True, check_only=True)
    assert (tmp_path / REPORT_FILE).exists()  # the check alone never deletes the old result


def test_out_that_is_a_file_is_named(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        prepare_out_dir(target, overwrite=False, check_only=True)
