"""`load_dataset` for the builder script, on every datasets release.

datasets >= 4 no longer runs loading scripts, yet trl needs datasets >= 4.7. This loader
imports the script's builder class itself and runs `download_and_prepare` + `as_dataset`,
so `metasynth_hf.load_dataset("builders/metasynth", "finance", num_docs=2)` works with any
datasets version; with datasets 3.x, `datasets.load_dataset(..., trust_remote_code=True)`
runs the same script.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

import datasets

from metasynth_hf.errors import ConfigError


def _script_path(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        script = path / f"{path.resolve().name}.py"
        if not script.is_file():
            raise ConfigError(f"{path} holds no {script.name}: point at a builder script or its folder")
        return script
    if path.suffix == ".py" and path.is_file():
        return path
    raise ConfigError(f"{path} is neither a builder script (.py) nor a folder holding one")


def import_builder_class(path: str | Path) -> type[datasets.DatasetBuilder]:
    """Import a dataset script and return the builder class it defines."""
    script = _script_path(path).resolve()
    digest = hashlib.sha256(str(script).encode()).hexdigest()[:8]
    module_name = f"metasynth_builder_{script.stem}_{digest}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, script)
        assert spec is not None and spec.loader is not None  # a .py file: always a source loader
        module = importlib.util.module_from_spec(spec)
        # datasets re-imports a builder's module by name (hashing, pickling): register it first.
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, datasets.DatasetBuilder)
        and obj.__module__ == module_name
        and not inspect.isabstract(obj)
    ]
    if not found:
        raise ConfigError(f"{script} defines no datasets.DatasetBuilder subclass")
    return found[-1]


def load_dataset(
    path: str | Path,
    name: str | None = None,
    *,
    split: str | None = None,
    cache_dir: str | None = None,
    num_proc: int | None = None,
    download_mode: str | None = None,
    trust_remote_code: bool | None = None,
    **config_kwargs: Any,
):
    """Same call shape as `datasets.load_dataset` for a builder script (no script execution
    by datasets needed). `trust_remote_code` is accepted for drop-in use and ignored: you
    are importing a local script you chose."""
    builder_cls = import_builder_class(path)
    builder = builder_cls(config_name=name, cache_dir=cache_dir, **config_kwargs)
    builder.download_and_prepare(num_proc=num_proc, download_mode=download_mode)
    return builder.as_dataset(split=split)
