"""Quality filters on hand-made bad documents; each names the rule that removed it."""

from __future__ import annotations

import random

import numpy as np
import pytest

from metasynth_hf.clean import CleanConfig, clean_corpus
from metasynth_hf.clean.filters import dup_ngram_char_frac, top_ngram_char_frac
from metasynth_hf.clean.text import Doc, WordHasher
from tests.clean.textgen import document

GOOD = document(random.Random(0))
GERMAN = (
    "Die Zentralbank hat am Donnerstag beschlossen, den Leitzins unverändert zu lassen. "
    "Viele Ökonomen hatten mit einer weiteren Erhöhung gerechnet, doch die Inflation ist in "
    "den vergangenen Monaten deutlich zurückgegangen. Die Banken müssen nun ihre Kreditvergabe "
    "an die neuen Bedingungen anpassen, während kleine Unternehmen weiterhin über hohe "
    "Finanzierungskosten klagen. Im Krankenhaus wurde eine neue Station für Patienten mit "
    "chronischen Erkrankungen eröffnet, die von erfahrenen Ärztinnen und Pflegekräften betreut wird. "
    "Die Studie zeigt, dass regelmäßige Bewegung das Risiko für Herzkrankheiten deutlich senkt."
)

BAD = {
    "short": ("Interest rates rose today.", "length.too_short"),
    "looping": (
        "\n".join(["The bank raised its rates again this week."] * 12 + [GOOD]),
        "repetition.dup_line",
    ),
    "stuck": (GOOD + " " + " ".join(["the market"] * 150) + ".", "repetition.top_2gram"),
    "ai": (
        GOOD + "\n\nAs an AI language model, I cannot give financial advice.",
        "artefacts.ai_phrase",
    ),
    "preamble": ("Sure, here is the document you asked for.\n\n" + GOOD, "artefacts.ai_phrase"),
    "envelope": (
        '{"title": "Rates", "document": "' + GOOD.replace("\n", " ") + '"}',
        "artefacts.json_fragment",
    ),
    "fence": ('```json\n{"a": 1}\n```\n' + GOOD, "artefacts.json_fragment"),
    "keyvals": (
        GOOD + '\n"summary": "rates rose",\n"keywords": ["bank"]',
        "artefacts.json_fragment",
    ),
    "expert": (
        "Summarizer Expert: the document covers bank rates.\n\n" + GOOD,
        "artefacts.scaffold_chatter",
    ),
    "conductor": ("Conductor: call the next expert now.\n\n" + GOOD, "artefacts.scaffold_chatter"),
    "chat": (GOOD + "\n<|im_end|>", "artefacts.scaffold_chatter"),
    "unfinished": (
        GOOD + " Meanwhile the committee decided that the",
        "artefacts.unfinished_ending",
    ),
    "cut_list": (GOOD + "\n\nThe three main risks are:", "artefacts.unfinished_ending"),
    "german": (GERMAN, "language.not_allowed"),
    "empty": ("   \n ", "empty"),
}


def quality_only() -> CleanConfig:
    return CleanConfig().model_copy(update={"exact": CleanConfig.all_off().exact, "near": CleanConfig.all_off().near})


def test_each_bad_document_is_removed_by_its_rule_and_good_ones_kept():
    records = [{"id": name, "text": text} for name, (text, _) in BAD.items()]
    rng = random.Random(9)
    good = [{"id": f"good-{i}", "text": document(rng)} for i in range(20)]
    result = clean_corpus(good + records, quality_only())
    got = {r["id"]: r["clean_rule"] for r in result.removed}
    assert got == {name: rule for name, (_, rule) in BAD.items()}
    assert [r["id"] for r in result.kept] == [g["id"] for g in good]
    assert sum(result.counts.values()) == len(BAD)
    assert all(r["clean_detail"] for r in result.removed)


def test_rules_can_be_switched_off_one_by_one():
    records = [{"id": name, "text": text} for name, (text, _) in BAD.items()]
    config = quality_only().model_copy(
        update={
            "language": CleanConfig.all_off().language,
            "artefacts": CleanConfig().artefacts.model_copy(update={"unfinished_ending": False, "ai_phrases": ()}),
        }
    )
    kept = {r["id"] for r in clean_corpus(records, config).kept}
    assert {"german", "unfinished", "ai", "preamble"} <= kept
    assert "looping" not in kept


def test_innocent_words_do_not_trip_the_scaffold_patterns():
    text = (
        GOOD + " The orchestra's conductor, a domain expert in baroque music, explained the seed "
        "funding round. Copper is a good conductor of heat, and every expert agrees. The tool "
        "served as an aid to the assistant professor; ask an expert, a user: the final answer."
    )
    assert clean_corpus([{"id": "x", "text": text}], quality_only()).removed == []


@pytest.mark.parametrize(
    ("words", "n", "expected"),
    [
        (
            ["a", "b", "c", "d", "e", "a", "b", "c", "d", "e", "a", "b", "c", "d", "e"],
            5,
            2 / 3,
        ),  # datatrove's greedy count agrees
        (["one", "two", "three", "four", "five", "six", "seven"], 2, 0.0),
    ],
)
def test_duplicate_ngram_fraction(words, n, expected):
    doc = Doc("d", " ".join(words), WordHasher())
    lengths = np.array([len(w) for w in words])
    assert dup_ngram_char_frac(doc, n, lengths, int(lengths.sum())) == pytest.approx(expected)


def test_top_ngram_fraction_counts_only_repeated_ngrams():
    words = ["x", "y", "x", "y", "x", "y", "p", "q"]
    doc = Doc("d", " ".join(words), WordHasher())
    lengths = np.ones(len(words), dtype=np.int64)
    assert top_ngram_char_frac(doc, 2, lengths, len(words)) == pytest.approx(2 * 3 / 8)
    unique = Doc("u", "a b c d", WordHasher())
    assert top_ngram_char_frac(unique, 2, np.ones(4, dtype=np.int64), 4) == 0.0


@pytest.mark.parametrize("backend", ["cld2", "langid"])
def test_language_backends_keep_english_and_drop_german(backend):
    config = CleanConfig.all_off().model_copy(
        update={"language": CleanConfig().language.model_copy(update={"backend": backend})}
    )
    records = [{"id": "en", "text": GOOD}, {"id": "de", "text": GERMAN}]
    result = clean_corpus(records, config)
    assert [r["id"] for r in result.kept] == ["en"]
    assert result.removed[0]["clean_detail"].startswith("detected de")
    keep_german = config.model_copy(
        update={"language": config.language.model_copy(update={"languages": ("de", "en")})}
    )
    assert len(clean_corpus(records, keep_german).kept) == 2


def test_language_codes_are_checked_and_control_characters_survive():
    from metasynth_hf.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown to the cld2 backend"):
        clean_corpus([], CleanConfig.model_validate({"language": {"languages": ["english"]}}))
    config = CleanConfig.all_off().model_copy(update={"language": CleanConfig().language})
    text = GOOD.replace(".", ".\x00\x85", 3)  # CLD2 rejects these bytes; we retry without them
    assert len(clean_corpus([{"id": "c", "text": text}], config).kept) == 1
