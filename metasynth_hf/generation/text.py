"""Small text helpers shared by the scaffold, baselines and instruct: cleaning weak-model
output (fences, loops), degeneracy checks, word caps, and parsing of expert answers."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD_LOOP = re.compile(r"\b((?:\S+\s+){1,6}?\S+)(?:\s+\1\b){2,}")
_LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")


def approx_tokens(text: str) -> int:
    """~4 characters per token (the usual BPE rule of thumb); used for budgets, not records."""
    return (len(text) + 3) // 4


def clean_output(text: str) -> str:
    """Strip fences and quotes, collapse word loops and drop repeated sentences and lines."""
    text = _FENCE.sub("", text.strip()).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    text = _WORD_LOOP.sub(r"\1", text)
    lines: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        if not line.strip():
            if lines and lines[-1]:
                lines.append("")
            continue
        kept = []
        for sentence in _SENTENCE.split(line.strip()):
            key = " ".join(sentence.lower().split())
            if len(key.split()) >= 4 and key in seen:
                continue
            seen.add(key)
            kept.append(sentence)
        if kept:
            lines.append(" ".join(kept))
    return "\n".join(lines).strip()


def is_degenerate(text: str) -> bool:
    """Empty, or dominated by repetition (distinct word trigrams under 40%)."""
    words = text.lower().split()
    if len(words) < 5:
        return True
    if len(words) < 30:
        return False
    trigrams = list(zip(words, words[1:], words[2:], strict=False))
    return len(set(trigrams)) / len(trigrams) < 0.4


def cap_words(text: str, max_words: int | None) -> str:
    """Cut to at most `max_words` words, ending at the last full sentence when there is one."""
    if not max_words:
        return text
    words = text.split()
    if len(words) <= max_words:
        return text
    cut = " ".join(words[:max_words])
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "), cut.rfind(".\n"))
    if cut.endswith((".", "!", "?")):
        return cut
    return cut[: end + 1] if end > len(cut) // 2 else cut


def cap_reply(text: str, max_words: int | None, truncated: bool) -> tuple[str, bool]:
    """`cap_words(text, max_words)`, and whether it stops where a cap cut it (status `truncated`):
    where max_tokens cut its reply (`truncated`: finish reason "length"), unless the word cap cut
    that end off at a full sentence, or where the word cap cut it with no sentence end to go back to."""
    capped = cap_words(text, max_words)
    if capped == text:
        return capped, truncated
    return capped, not capped.endswith((".", "!", "?"))


def parse_keywords(text: str, *, limit: int = 8) -> list[str]:
    """Keywords from a comma- or line-separated answer; junk items (sentences) are dropped."""
    items = re.split(r"[,;\n]", text)
    out: list[str] = []
    for item in items:
        item = _LIST_ITEM.sub("", item).strip(" .:\"'*`").lower()
        if not item or len(item.split()) > 5 or ":" in item or len(item) > 60:
            continue
        if item not in out:
            out.append(item)
        if len(out) >= limit:
            break
    return out


def parse_label(text: str) -> tuple[str, str]:
    """(category, topic) from `Category: ...` / `Topic: ...` lines, tolerating drift."""
    category = topic = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        value = value.strip(" .*\"'")
        if key.strip(" *-").lower() == "category" and value and not category:
            category = value
        elif key.strip(" *-").lower() == "topic" and value and not topic:
            topic = value
    if not topic:
        first = next((ln.strip(" .*-\"'") for ln in text.splitlines() if ln.strip()), "")
        topic = " ".join(first.split()[:10])
    return " ".join(category.split()[:4]) or "general", " ".join(topic.split()[:12])


def excerpt(text: str, max_chars: int) -> str:
    """The first `max_chars` characters, cut at a word boundary, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    return text[:max_chars].rsplit(" ", 1)[0] + " ..."


def make_token_counter(tokenizer: str):
    """`num_tokens` of records: 'approx' (chars / 4) or a transformers tokenizer reference."""
    if tokenizer == "approx":
        return approx_tokens
    from metasynth_hf.errors import missing_dependency
    from metasynth_hf.models import resolve_model

    try:
        from transformers import AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_dependency("transformers", "metrics") from exc
    ref = resolve_model(tokenizer)
    kwargs = {"gguf_file": ref.gguf_file} if ref.gguf_file else {}
    tok = AutoTokenizer.from_pretrained(ref.name_or_path, **kwargs)
    return lambda text: len(tok.encode(text, add_special_tokens=False))
