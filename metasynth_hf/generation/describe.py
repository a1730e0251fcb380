"""The sentences a dataset card uses to say what ran, shared by the methods' `describe`.

Each producer describes its own method (`Producer.describe` in `generation/methods/`); the
parts two methods share (the paper reference, the scaffold's rules, the instance table the
conductor was shown) are here, so the card stays true of the settings the corpus was made with.
`facts` are the card's facts (`metasynth_hf.hub.gather_facts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PAPER = "MetaSynth (Riaz et al., Findings of ACL 2025, [arXiv:2504.12563](https://arxiv.org/abs/2504.12563))"


def table_size(facts: Mapping[str, Any]) -> tuple[int, int]:
    """(max_entries, recent) of the instance table the conductor was shown."""
    table = facts.get("instance_table") or {}
    return table.get("max_entries", 12), table.get("recent", 4)


def scaffold_text(facts: Mapping[str, Any]) -> str:
    """The scaffold's rules around a conductor loop, with this run's settings."""
    return (
        "A scaffold keeps the loop on its rails: it requires some experts before a FINAL "
        f"({', '.join(facts.get('required', [])) or 'none'}), reserves the last of the "
        f"{facts.get('max_turns', '?')} turns for them, and, when a conductor reply cannot be used (not "
        "parseable, instructions empty, the default or the example's placeholder, a repeat) after one "
        "re-ask, runs the next step of a fixed expert order instead. How often each happened is in the "
        "table below and in every record's `provenance.agency`."
    )


def conditioning_text(facts: Mapping[str, Any]) -> str:
    """What of the earlier documents the conductor saw, and who wrote their summaries."""
    shown, recent = table_size(facts)
    return (
        f"Before each document, the conductor was shown the instance table: summaries of the earlier "
        f"documents visible to it (index at most i − lanes), all of them while they fit, else the {recent} most "
        f"recent plus the most similar to its seeds, {shown} at most (`instance_table.max_entries`). The "
        "summary and topic label of each finished document were written by fixed bookkeeping calls "
        "(summarizer, topic labeler) with the scaffold's instructions, not the conductor's."
    )
