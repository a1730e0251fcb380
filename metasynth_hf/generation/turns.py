"""Conductor turns: the JSON schema the conductor answers in, and a tolerant parser.

A turn is `{"action": "call_expert", "expert": ..., "instructions": ..., "share": [...]}`
or `{"action": "final"}` (optionally with `"document"`). Small models drift: expert names
in prose case ("Domain Expert"), `share` as a string, a missing `action`. What can be
understood is accepted; what cannot raises ParseError, which the loop re-asks once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from metasynth_hf.errors import ParseError
from metasynth_hf.llm.parsing import parse_json_object

_FINAL_WORDS = {"final", "finish", "finished", "done", "stop", "end", "complete"}


@dataclass(frozen=True)
class Turn:
    action: Literal["call_expert", "final"]
    expert: str = ""
    instructions: str = ""
    share: tuple[str, ...] = ()
    context: str = ""
    document: str = ""

    def to_json(self) -> str:
        """The canonical form kept in memory (shorter and cleaner than the raw reply)."""
        if self.action == "final":
            return json.dumps({"action": "final"})
        return json.dumps(
            {
                "action": "call_expert",
                "expert": self.expert,
                "instructions": self.instructions,
                "share": list(self.share),
                **({"context": self.context} if self.context else {}),
            },
            ensure_ascii=False,
        )


def turn_schema(experts: list[str], artifacts: list[str], max_tokens: int | None = None) -> dict[str, Any]:
    """JSON schema of a turn: a call with all its fields, or a final (the parser never relies on it).

    With `max_tokens`, the free-text fields and the `share` list are bounded so that a turn
    decoded under the schema's grammar (the embedded model) closes its JSON within that many
    tokens and always parses, even at one token per character (digits, symbols; measured here:
    the longest key skeleton is 40 tokens plus ~4.4 per artifact name). A character that takes
    several tokens (outside ASCII) can still run a turn past the budget; the parser then re-asks.
    """
    limit = text_limit(max_tokens, len(artifacts)) if max_tokens else None

    def text(chars: int | None) -> dict[str, Any]:
        return {"type": "string", "maxLength": chars} if chars else {"type": "string"}

    share: dict[str, Any] = {"type": "array", "items": {"type": "string", "enum": artifacts}}
    if limit:
        share["maxItems"] = len(artifacts)
    call = {
        "type": "object",
        "properties": {
            "action": {"const": "call_expert"},
            "expert": {"type": "string", "enum": experts},
            "instructions": text(limit and max(1, limit * 2 // 3)),
            "share": share,
            "context": text(limit and max(1, limit // 3)),
        },
        "required": ["action", "expert", "instructions", "share"],
    }
    final = {
        "type": "object",
        "properties": {"action": {"const": "final"}, "document": text(limit)},
        "required": ["action"],
    }
    return {"anyOf": [call, final]}


#: Tokens a turn's JSON needs besides its free text: keys, an expert name, the grammar's
#: optional whitespace, and this many per shared artifact name.
TURN_OVERHEAD_TOKENS, TOKENS_PER_ARTIFACT = 50, 5


def text_limit(max_tokens: int, artifacts: int) -> int:
    """Characters of free text a turn may hold and still fit in `max_tokens` at worst."""
    return max(24, max_tokens - TURN_OVERHEAD_TOKENS - TOKENS_PER_ARTIFACT * artifacts)


def examples(experts: list[str], artifacts: list[str], placeholder: str) -> tuple[str, str]:
    """(call example, final example) as shown in the prompts; `placeholder` stands for the
    instructions (`PromptSet.placeholder`, from prompts/conductor/turn.yaml)."""
    expert = "domain_expert" if "domain_expert" in experts else experts[0]
    share = [a for a in ("seeds", "draft") if a in artifacts] or artifacts[:1]
    call = json.dumps({"action": "call_expert", "expert": expert, "instructions": placeholder, "share": share})
    return call, json.dumps({"action": "final"})


def _norm(name: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    return name


def match_expert(name: Any, experts: list[str]) -> str | None:
    """`Domain Expert`, `domain-expert`, `domain` all mean `domain_expert`."""
    if not isinstance(name, str) or not name.strip():
        return None
    norm = _norm(name)
    candidates = [norm, norm.removesuffix("_expert"), norm.removeprefix("the_")]
    for candidate in candidates:
        for expert in experts:
            if candidate in (expert, expert.removesuffix("_expert")):
                return expert
    return None


def _share(value: Any, artifacts: list[str]) -> tuple[str, ...]:
    items = re.split(r"[,\s]+", value) if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        return ()
    out: list[str] = []
    for item in items:
        norm = _norm(str(item))
        if norm in artifacts and norm not in out:
            out.append(norm)
    return tuple(out)


def parse_turn(text: str, experts: list[str], artifacts: list[str]) -> Turn:
    """A Turn from the conductor's reply, or ParseError saying what to fix."""
    data = parse_json_object(text)
    action = _norm(str(data.get("action", "")))
    expert = match_expert(data.get("expert") or data.get("name"), experts)
    if action in _FINAL_WORDS or (not action and "document" in data and not expert):
        document = data.get("document")
        return Turn("final", document=document if isinstance(document, str) else "")
    if action not in ("call_expert", "call", "expert", "") and not match_expert(action, experts):
        raise ParseError(f'"action" must be "call_expert" or "final", got {data.get("action")!r}', raw=text)
    expert = expert or match_expert(action, experts)
    if expert is None:
        got = data.get("expert")
        raise ParseError(f'"expert" must be one of {experts}, got {got!r}', raw=text)
    instructions = data.get("instructions") or data.get("instruction") or ""
    if not isinstance(instructions, str):
        instructions = json.dumps(instructions, ensure_ascii=False)
    context = data.get("context", "")
    share = _share(data.get("share", []), artifacts)
    if not isinstance(context, str):  # a list of artifact names given as "context"
        share, context = share or _share(context, artifacts), ""
    return Turn(
        "call_expert",
        expert=expert,
        instructions=instructions.strip(),
        share=share,
        context=context.strip(),
    )
