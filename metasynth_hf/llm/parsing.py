"""Tolerant parsing of model replies that were asked for JSON.

Servers differ in structured-output support and small models drift (code fences, prose
around the object, trailing commas, single quotes, truncation). Parse what can be parsed;
otherwise raise ParseError carrying the raw text so callers can keep it in provenance.
"""

from __future__ import annotations

import json
import re
from typing import Any

from metasynth_hf.errors import ParseError

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _balanced_objects(text: str):
    """Yield every top-level `{...}` span, respecting strings and escapes."""
    depth, start, in_str, escaped = 0, -1, False, False
    for i, ch in enumerate(text):
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                yield text[start : i + 1]


def _close_truncated(text: str) -> str | None:
    """Close an object cut off mid-way (max_tokens hit): finish the string and brackets."""
    start = text.find("{")
    if start < 0:
        return None
    stack, in_str, escaped = [], False, False
    for ch in text[start:]:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    if not stack:
        return None
    body = text[start:].rstrip().rstrip(",")
    return body + ('"' if in_str else "") + "".join(reversed(stack))


def _loads(candidate: str) -> Any:
    for attempt in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
        try:
            return json.loads(attempt)
        except json.JSONDecodeError:
            continue
    return None


def parse_json_object(text: str, *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return the first JSON object in `text` that has every `required` key."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text.strip()]
    candidates += list(_balanced_objects(text))
    closed = _close_truncated(text)
    if closed:
        candidates.append(closed)
    for candidate in candidates:
        value = _loads(candidate)
        if isinstance(value, dict) and all(k in value for k in required):
            return value
    want = f" with keys {list(required)}" if required else ""
    preview = text.strip().replace("\n", " ")[:120]
    raise ParseError(f"reply holds no JSON object{want}: {preview!r}", raw=text)
