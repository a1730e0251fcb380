"""A small real corpus made on the spot: paragraphs of Python standard-library docstrings.

Grouped by area (numbers, files, networking, ...), so it has real topics without any
download. The text depends on the Python version, so tests assert rules, not exact picks.
"""

from __future__ import annotations

import sys
from pathlib import Path

from metasynth_hf.experiments.reference import rows_function

STANDIN = Path(__file__).resolve().parents[2] / "recipes" / "experiments" / "standin_text.py"
module_docstrings = rows_function(f"{STANDIN}:module_docstrings")

#: The stand-in text's own areas (recipes/experiments/standin_text.py), the first eight: the
#: topic tests count eight groups.
GROUPS: dict[str, tuple[str, ...]] = dict(list(sys.modules[module_docstrings.__module__].STDLIB_AREAS.items())[:8])


def stdlib_paragraphs(per_group: int = 16, min_chars: int = 120, max_chars: int = 600) -> list[dict[str, str]]:
    """Rows {id, text, group}: distinct docstring paragraphs of `min_chars` to `max_chars`."""
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for group, modules in GROUPS.items():
        taken = 0
        for module_name in modules:
            for doc in module_docstrings(module_name, methods=True):
                for para in doc.split("\n\n"):
                    text = " ".join(para.split())
                    if not min_chars <= len(text) <= max_chars or text in seen or ">>>" in text or "===" in text:
                        continue
                    seen.add(text)
                    rows.append({"id": f"{group}-{taken:02d}", "text": text, "group": group})
                    taken += 1
                    if taken == per_group:
                        break
                if taken == per_group:
                    break
            if taken == per_group:
                break
    return rows
