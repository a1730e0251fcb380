"""What the dataset card says about the models, the licence and how to remake a corpus, read
from the run's settings (`fingerprint.json` fields) and the corpus folder."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from metasynth_hf.card_text import CONDUCTOR_METHODS
from metasynth_hf.errors import ConfigError
from metasynth_hf.models import KNOWN_MODELS, published_model

RUN_CONFIG_FILE = "metasynth_run.yaml"
CLEAN_REPORT_FILE = "clean_report.json"
#: The cleaning settings of a cleaned corpus, as a file `metasynth clean --config` reads.
CLEAN_CONFIG_FILE = "clean_config.yaml"
_LICENSE_ID = re.compile(r"[a-z0-9][a-z0-9.+-]*")


def role_models(identity: Any) -> list[tuple[str, str]]:
    """(model id, weights note) of what answered a role: the models the servers reported, else
    the endpoints' configured names, else the embedded or local model (`models.published_model`)."""
    if not isinstance(identity, dict):
        return [published_model(str(identity))]
    names = identity.get("served") or identity.get("endpoint_models")
    if names:
        return [published_model(str(name)) for name in names]
    return [published_model(str(identity.get("model", "?")), str(identity.get("weights") or ""))]


def generator_models(fields: dict[str, Any]) -> list[dict[str, str]]:
    roles = [("conductor", "conductor_model"), ("expert", "expert_model")]
    if fields.get("method") not in CONDUCTOR_METHODS:
        roles = [("writer", "expert_model")]
    return [
        {"role": role, "id": model_id, "note": note}
        for role, key in roles
        for model_id, note in role_models(fields.get(key, "?"))
    ]


def reply_caps(fields: dict[str, Any]) -> dict[str, int]:
    """The sampling `max_tokens` of each role's replies, as configured."""
    caps = {"conductor": "conductor_sampling", "expert": "expert_sampling"}
    if fields.get("method") not in CONDUCTOR_METHODS:
        caps = {"writer": "expert_sampling"}
    found = {role: (fields.get(key) or {}).get("max_tokens") for role, key in caps.items()}
    return {role: tokens for role, tokens in found.items() if tokens}


def choose_license(requested: str | None, models: list[dict[str, str]]) -> tuple[str, str]:
    """The dataset's licence and where it came from: `--license` when given, else the generator
    models' licence when `models.KNOWN_MODELS` knows them all and they agree; else an error
    asking for --license (the card never says `other` without naming a licence)."""
    if requested:
        if requested == "other" or not _LICENSE_ID.fullmatch(requested):
            raise ConfigError(
                f"--license {requested!r} is not a Hub licence id; give one such as apache-2.0, cc-by-4.0 or mit"
            )
        return requested, "set with `metasynth push --license`"
    ids = sorted({m["id"] for m in models})
    licences = {KNOWN_MODELS[i].license for i in ids if i in KNOWN_MODELS}
    unknown = [i for i in ids if i not in KNOWN_MODELS]
    if unknown or len(licences) != 1:
        which = (
            f"metasynth-hf does not know the licence of {', '.join(unknown)}" if unknown else "their licences differ"
        )
        raise ConfigError(
            f"--license is needed: {which}, so there is no default from the generator models; pass --license "
            "with the Hub licence id their terms allow (e.g. --license cc-by-4.0)"
        )
    plural = "s" if len(ids) > 1 else ""
    return licences.pop(), f"the default: the licence of the generator model{plural} {', '.join(ids)}"


def reproduce(out_dir: Path) -> dict[str, str]:
    """The commands that remake the corpus from the files published with it: generate, then
    (for a cleaned corpus) clean with the settings it was cleaned with. None without the run's
    config file: the card then says so instead of naming a file that is not there."""
    if not (out_dir / RUN_CONFIG_FILE).is_file():
        return {"reproduce": "", "reproduce_files": ""}
    name = shlex.quote(out_dir.name)
    if not (out_dir / CLEAN_REPORT_FILE).is_file():
        return {
            "reproduce": f"metasynth generate --config {RUN_CONFIG_FILE} --out {name}",
            "reproduce_files": f"`{RUN_CONFIG_FILE}`",
        }
    return {
        "reproduce": f"metasynth generate --config {RUN_CONFIG_FILE} --out generated\n"
        f"metasynth clean generated --out {name} --config {CLEAN_CONFIG_FILE}",
        "reproduce_files": f"`{RUN_CONFIG_FILE}` and `{CLEAN_CONFIG_FILE}`",
    }
