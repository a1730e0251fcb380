"""How much of a conductor loop the conductor decided, and how much the scaffold did.

The scaffold keeps a weak conductor on its rails (reserved last turns, a fixed plan when a reply
cannot be used, no FINAL before the required experts ran). Those rules can make the "meta-LM
conductor" a fixed pipeline without anyone noticing; this ledger makes it visible per record and
per run (`agency` in provenance, the run summary and the dataset card).

- a **conductor turn** is one whose action (call an expert, or FINAL) the conductor chose and
  the scaffold kept, a successful re-ask included;
- a **scaffold turn** is one the scaffold decided, with the reason counted: `reserved` (the last
  turns belong to required steps), `unparseable` (twice), `unusable_instructions` (twice empty, the
  default or the example's placeholder), `repeat`, `early_final` (FINAL before a required step);
- **conductor instructions** count expert calls whose instructions the conductor wrote itself,
  out of all expert calls of the document (bookkeeping calls such as the summary included);
- `final_by`: `conductor` (its FINAL was accepted), `scaffold` (the fixed plan finished the loop),
  `max_turns` or `token_budget`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def unusable_instructions(instructions: str, default: str, placeholder: str) -> str | None:
    """Why `instructions` are not the conductor's own (None when they are); `placeholder` is
    the turn example's (`PromptSet.placeholder`)."""
    words = _words(instructions)
    if not words:
        return "is empty"
    copied = " ".join(_words(placeholder))
    joined = " ".join(words)
    if copied and copied in joined and len(words) - len(copied.split()) < 3:
        return f"copies the example's placeholder {placeholder!r}"
    if words == _words(default):
        return "repeats the expert's default instructions"
    return None


@dataclass
class Agency:
    """The ledger of one loop (one document or one instruction)."""

    conductor_turns: int = 0
    scaffold_turns: int = 0
    scaffold_reasons: Counter = field(default_factory=Counter)
    conductor_instructions: int = 0
    expert_calls: int = 0
    final_by: str = ""

    def scaffold(self, reason: str) -> None:
        self.scaffold_turns += 1
        self.scaffold_reasons[reason] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "conductor_turns": self.conductor_turns,
            "scaffold_turns": self.scaffold_turns,
            "scaffold_reasons": dict(sorted(self.scaffold_reasons.items())),
            "conductor_instructions": self.conductor_instructions,
            "expert_calls": self.expert_calls,
            "final_by": self.final_by,
        }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


_COUNTS = ("documents", "conductor_turns", "scaffold_turns", "conductor_instructions", "expert_calls")


class AgencyTotals:
    """Run totals of per-record `agency` ledgers, kept as running sums (flat in memory)."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.reasons: Counter = Counter()
        self.final_by: Counter = Counter()

    def add(self, ledger: Mapping[str, Any]) -> None:
        """One record's ledger (`provenance["agency"]`)."""
        self.counts["documents"] += 1
        for key in _COUNTS[1:]:
            self.counts[key] += int(ledger.get(key, 0))
        self.reasons.update(ledger.get("scaffold_reasons", {}))
        self.final_by[ledger.get("final_by") or "unknown"] += 1

    def merge(self, totals: Mapping[str, Any]) -> None:
        """Another run's (shard's) `to_dict()`."""
        for key in _COUNTS:
            self.counts[key] += int(totals.get(key, 0))
        self.reasons.update(totals.get("scaffold_reasons", {}))
        self.final_by.update(totals.get("final_by", {}))

    def to_dict(self) -> dict[str, Any]:
        """{} when no record had a conductor (template baselines)."""
        if not self.counts["documents"]:
            return {}
        c = self.counts
        return {
            **{key: c[key] for key in _COUNTS},
            "scaffold_reasons": dict(sorted(self.reasons.items())),
            "final_by": dict(sorted(self.final_by.items())),
            "conductor_turn_share": _share(c["conductor_turns"], c["conductor_turns"] + c["scaffold_turns"]),
            "conductor_instruction_share": _share(c["conductor_instructions"], c["expert_calls"]),
        }


def merge_totals(totals: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Totals of several shards' summaries (the shares recomputed)."""
    merged = AgencyTotals()
    for t in totals:
        merged.merge(t or {})
    return merged.to_dict()


def describe(totals: Mapping[str, Any]) -> str:
    """One plain sentence of the totals, for the CLI's closing lines and the card."""
    if not totals:
        return ""
    turn_share = totals.get("conductor_turn_share")
    instr_share = totals.get("conductor_instruction_share")
    conductor_final = totals.get("final_by", {}).get("conductor", 0)
    pct = lambda x: "–" if x is None else f"{100 * x:.0f}%"  # noqa: E731
    return (
        f"the conductor decided {pct(turn_share)} of its turns "
        f"({totals['conductor_turns']} of {totals['conductor_turns'] + totals['scaffold_turns']}), wrote the "
        f"instructions of {pct(instr_share)} of expert calls ({totals['conductor_instructions']} of "
        f"{totals['expert_calls']}) and ended {conductor_final} of {totals['documents']} loops itself"
    )


def table_cells(totals: Mapping[str, Any]) -> dict[str, str]:
    """The totals as table cells (the card's and the results' agency tables say them alike)."""
    pct = lambda x: "–" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    turns = totals["conductor_turns"] + totals["scaffold_turns"]
    reasons = ", ".join(f"{k} {v}" for k, v in totals.get("scaffold_reasons", {}).items()) or "none"
    return {
        "conductor_turns": f"{totals['conductor_turns']} of {turns} ({pct(totals['conductor_turn_share'])})",
        "turn_share": pct(totals["conductor_turn_share"]),
        "scaffold_turns": f"{totals['scaffold_turns']} ({reasons})",
        "instructions": f"{totals['conductor_instructions']} of {totals['expert_calls']}",
        "instruction_share": pct(totals["conductor_instruction_share"]),
        "final_by": ", ".join(f"{k} {v}" for k, v in totals.get("final_by", {}).items()),
    }
