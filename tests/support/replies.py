"""Reply text for the faithful servers, keyed by what the request asks for, never by prompt wording.

A structured call (a conductor turn) gets an object that satisfies the schema the server was
given — TGI's flattened `response_format.value`, vLLM's `structured_outputs.json` — as a server
decoding under that grammar would return; a plain call gets a finished paragraph.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

PROSE = (
    "Regional banks tightened lending standards after the rate rise, and small firms turned to "
    "invoice financing to bridge the gap. Analysts expect margins to narrow before deposits reprice."
)


def request_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a request constrains its reply to, in TGI's or vLLM's field; None if none."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and isinstance(fmt.get("value"), dict):
        return fmt["value"]
    if isinstance(fmt, dict) and isinstance(fmt.get("schema"), dict):
        return fmt["schema"]
    outputs = body.get("structured_outputs")
    if isinstance(outputs, dict) and isinstance(outputs.get("json"), dict):
        return outputs["json"]
    return None


def _branch(schema: dict[str, Any]) -> dict[str, Any]:
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return schema[key][0]
    return schema


class TurnWriter:
    """A conductor that calls each expert the schema offers once, in turn, then says FINAL."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def __call__(self, body: dict[str, Any]) -> str:
        schema = request_schema(body)
        if schema is None:
            return PROSE
        props = _branch(schema).get("properties", {})
        experts = props.get("expert", {}).get("enum", [])
        turns = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        if not experts or turns >= len(experts):
            return json.dumps({"action": "final"})
        share = props.get("share", {}).get("items", {}).get("enum", [])[:1]
        n = next(self._counter)
        return json.dumps(
            {
                "action": "call_expert",
                "expert": experts[turns],
                "instructions": f"Write part {n} about a different lender, with figures and one named region.",
                "share": share,
            }
        )
