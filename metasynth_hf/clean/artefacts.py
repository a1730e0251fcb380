"""Leftovers of the generation scaffold: JSON fragments, assistant talk, conductor/expert
chatter, documents that stop mid-sentence.

A weak model (SmolLM2-135M) often answers with the JSON envelope it was asked for, with
"Sure, here is..." preambles, or with the conductor's own bookkeeping; none of it belongs in a
pre-training corpus. Each check reports the matched text, so a card reader can judge the rule.
"""

from __future__ import annotations

import re

from metasynth_hf.clean.config import ArtefactConfig
from metasynth_hf.clean.text import Doc, Verdict

_JSON_LINE_RE = re.compile(r'^\s*[{\[]?\s*"[^"\n]{1,80}"\s*:\s*(?:["{\[\d-]|true|false|null)', re.M)
_JSON_FENCE_RE = re.compile(r"```\s*json\b", re.I)


def _is_envelope(text: str) -> bool:
    """A whole-document JSON object/array, or one that starts like one."""
    if text.startswith("{") and (text.endswith("}") or text[1:].lstrip().startswith('"')):
        return True
    return text.startswith("[") and text.endswith("]") and text[1:].lstrip()[:1] in ('"', "{")


def _find_words(text: str, phrase: str) -> int:
    """Offset of `phrase` as whole words ("as an ai" is not in "as an aid"), or -1."""
    at = text.find(phrase)
    while at >= 0:
        end = at + len(phrase)
        before = text[at - 1] if at else " "
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() and phrase[0].isalnum()) and not (after.isalnum() and phrase[-1].isalnum()):
            return at
        at = text.find(phrase, at + 1)
    return -1


def _snippet(text: str, start: int, end: int, width: int = 40) -> str:
    return text[max(0, start - 10) : min(len(text), end + width)].replace("\n", " ").strip()


class ArtefactFilter:
    """Drops documents carrying scaffold artefacts; one rule name per kind of artefact."""

    section = "artefacts"

    def __init__(self, config: ArtefactConfig):
        self.config = config
        self._phrases = tuple(p.lower() for p in config.ai_phrases)
        try:
            self._scaffold = [re.compile(p, re.M) for p in config.scaffold_patterns]
        except re.error as exc:
            raise ValueError(f"artefacts.scaffold_patterns: invalid regex ({exc})") from exc

    def check(self, doc: Doc) -> Verdict | None:
        text = doc.text
        if self.config.json_fragment:
            verdict = self._json(text)
            if verdict is not None:
                return verdict
        lowered = text.lower()
        for phrase in self._phrases:
            at = _find_words(lowered, phrase)
            if at >= 0:
                return Verdict("artefacts.ai_phrase", f"{phrase!r} in: {_snippet(text, at, at)}")
        for pattern in self._scaffold:
            match = pattern.search(lowered)
            if match:
                return Verdict(
                    "artefacts.scaffold_chatter",
                    f"/{pattern.pattern}/ matched: {_snippet(text, match.start(), match.end())}",
                )
        if self.config.unfinished_ending:
            return self._ending(text)
        return None

    def _json(self, text: str) -> Verdict | None:
        fence = _JSON_FENCE_RE.search(text)
        if fence:
            return Verdict(
                "artefacts.json_fragment",
                f"json code fence: {_snippet(text, fence.start(), fence.end())}",
            )
        stripped = text.strip()
        if _is_envelope(stripped):
            return Verdict("artefacts.json_fragment", f"JSON envelope: {stripped[:40]!r}...{stripped[-20:]!r}")
        lines = _JSON_LINE_RE.findall(text)
        if len(lines) >= self.config.min_json_lines:
            return Verdict(
                "artefacts.json_fragment",
                f"{len(lines)} JSON key/value lines, e.g. {lines[0].strip()!r}",
            )
        return None

    def _ending(self, text: str) -> Verdict | None:
        stripped = text.rstrip()
        if stripped and stripped[-1] not in self.config.terminal_chars:
            return Verdict("artefacts.unfinished_ending", f"ends with {stripped[-30:]!r}")
        return None

    def keep(self, doc: Doc) -> None:
        """Stateless."""
