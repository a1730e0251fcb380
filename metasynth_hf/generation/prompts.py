"""The prompt set: every conductor, expert, baseline and instruct prompt is a jinja2 file.

Prompts live in `metasynth_hf/prompts/` (or a folder the config names), one file per role,
so a prompt changes without touching code. Expert files start with a YAML header in a jinja2
comment (description, output artifact, default share and instructions): adding an expert is a
prompt file plus its name in the config's `expert_set`. Every other text a model sees lives here
too: the seed and instance-table renderings, the scaffold's notes to the conductor, the conductor's
memory digests (`.jinja2`), the artifact descriptions and the turn example's placeholder (`.yaml`).
The hash over all files goes into every record's provenance and into the run fingerprint, so a
changed prompt never reuses stale output.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
import yaml

from metasynth_hf.errors import ConfigError
from metasynth_hf.generation.text import excerpt

#: The prompts shipped with the package.
DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"

_HEADER = re.compile(r"\A\{#-?(.*?)-?#\}", re.DOTALL)


@dataclass(frozen=True)
class RoleSpec:
    """An expert as the conductor sees it, read from its prompt file's header."""

    name: str
    template: str
    description: str
    output: str
    default_share: tuple[str, ...]
    default_instructions: str


class PromptSet:
    """Renders prompt files by name (`"conductor/system"`) and hashes the whole set."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else DEFAULT_PROMPTS_DIR
        if not self.root.is_dir():
            raise ConfigError(f"prompts_dir: {self.root} is not a folder of .jinja2 prompt files")
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.root)),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            autoescape=False,
        )
        self.env.filters["excerpt"] = excerpt
        self._data: dict[str, Any] = {}

    @cached_property
    def hash(self) -> str:
        """SHA-256 over every file's relative path and bytes (first 16 hex digits)."""
        digest = hashlib.sha256()
        files = (p for p in self.root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for path in sorted(files):
            digest.update(path.relative_to(self.root).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
        return digest.hexdigest()[:16]

    def has(self, name: str) -> bool:
        return (self.root / f"{name}.jinja2").is_file()

    def render(self, name: str, **variables: Any) -> str:
        """Render `name` (path without `.jinja2`); a missing variable is a clear error."""
        try:
            template = self.env.get_template(f"{name}.jinja2")
            return template.render(**variables).strip()
        except jinja2.TemplateNotFound as exc:
            raise ConfigError(
                f"prompt file {self.root / name}.jinja2 is missing; add it or fix the role name"
            ) from exc
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"prompt file {name}.jinja2: {exc}; pass that variable") from exc

    def data(self, name: str) -> Any:
        """The parsed YAML file `<name>.yaml` (cached): texts a model sees that are not templates."""
        if name not in self._data:
            path = self.root / f"{name}.yaml"
            if not path.is_file():
                raise ConfigError(f"prompt file {path} is missing; copy it from {DEFAULT_PROMPTS_DIR / name}.yaml")
            try:
                self._data[name] = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
        return self._data[name]

    @cached_property
    def placeholder(self) -> str:
        """The instructions placeholder of the conductor's JSON example (a copy is no instruction)."""
        turn = self.data("conductor/turn")
        value = turn.get("placeholder") if isinstance(turn, dict) else None
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{self.root / 'conductor/turn.yaml'}: needs a non-empty `placeholder:` string")
        return value

    def artifacts(self, group: str) -> dict[str, str]:
        """`<group>/artifacts.yaml`: artifact name -> the description the conductor reads."""
        table = self.data(f"{group}/artifacts")
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise ConfigError(f"{self.root / group}/artifacts.yaml: must map artifact names to descriptions")
        return {str(k): v for k, v in table.items()}

    def role(self, group: str, name: str) -> RoleSpec:
        """Read the header of `<group>/<name>.jinja2`, e.g. `experts/domain_expert`."""
        template = f"{group}/{name}"
        path = self.root / f"{template}.jinja2"
        if not path.is_file():
            known = sorted(p.stem for p in (self.root / group).glob("[!_]*.jinja2"))
            raise ConfigError(
                f"expert {name!r} has no prompt file {path}; known experts: {known}. "
                "Add the file (with a header) or remove the name from the config"
            )
        match = _HEADER.match(path.read_text(encoding="utf-8"))
        try:
            header = yaml.safe_load(match.group(1)) if match else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: the header comment is not valid YAML ({exc})") from exc
        if not isinstance(header, dict) or not {"description", "output"} <= header.keys():
            raise ConfigError(
                f"{path}: the file must start with a {{#- ... -#}} YAML header holding "
                "'description' and 'output' (see experts/domain_expert.jinja2)"
            )
        return RoleSpec(
            name=name,
            template=template,
            description=" ".join(str(header["description"]).split()),
            output=str(header["output"]),
            default_share=tuple(header.get("default_share") or ()),
            default_instructions=str(header.get("default_instructions") or ""),
        )
