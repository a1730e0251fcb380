"""Typed settings of corpus cleaning; YAML `clean: {...}` keys equal these fields.

Every rule can be switched off on its own (`enabled: false`, or a threshold of `null`), so a
card can say exactly which rules ran. Defaults follow the published rule sets they come from
(Gopher repetition rules, 13-gram decontamination as in GPT-3, MinHash at Jaccard 0.8 as in
datatrove/cosmopedia) and are tuned for documents, not chat turns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from metasynth_hf.config_io import StrictConfig


class ExactDedupConfig(StrictConfig):
    """Drop byte-identical (after normalisation) repeats; the first occurrence is kept."""

    enabled: bool = True
    normalize: bool = Field(True, description="Lowercase and collapse whitespace before hashing.")


class NearDedupConfig(StrictConfig):
    """MinHash-LSH over word shingles (datasketch); the first document of a cluster is kept."""

    enabled: bool = True
    shingle_size: int = Field(5, ge=1, le=32, description="Words per shingle.")
    threshold: float = Field(0.8, gt=0.0, le=1.0, description="Estimated Jaccard that counts as a duplicate.")
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations.")
    seed: int = Field(1, description="Seed of the MinHash permutations (fixed: results are reproducible).")
    verify: bool = Field(
        True,
        description="Confirm LSH candidates by their estimated Jaccard; off keeps any band collision.",
    )
    bands: int | None = Field(
        None,
        ge=2,
        description="LSH bands (with `rows`); default: datasketch's optimum for the threshold, "
        "weighted 0.1/0.9 towards recall since candidates are verified.",
    )
    rows: int | None = Field(None, ge=1, description="MinHash values per LSH band (with `bands`).")

    @model_validator(mode="after")
    def _lsh_shape(self) -> NearDedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands * self.rows}) must not exceed num_perm ({self.num_perm})")
        return self


class LengthConfig(StrictConfig):
    """Bounds on the number of words; `null` disables a bound."""

    enabled: bool = True
    min_words: int | None = Field(50, ge=0)
    max_words: int | None = Field(100_000, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> LengthConfig:
        if self.min_words is not None and self.max_words is not None and self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) must not exceed max_words ({self.max_words})")
        return self


class RepetitionConfig(StrictConfig):
    """Gopher repetition rules (Rae et al. 2021, table A1); `null` disables one rule."""

    enabled: bool = True
    dup_line_frac: float | None = Field(0.30, ge=0, le=1)
    dup_para_frac: float | None = Field(0.30, ge=0, le=1)
    dup_line_char_frac: float | None = Field(0.20, ge=0, le=1)
    dup_para_char_frac: float | None = Field(0.20, ge=0, le=1)
    top_ngram_char_frac: dict[int, float] = Field(
        default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16},
        description="n -> max fraction of characters in the most frequent n-gram.",
    )
    dup_ngram_char_frac: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="n -> max fraction of characters inside repeated n-grams.",
    )

    @field_validator("top_ngram_char_frac", "dup_ngram_char_frac")
    @classmethod
    def _sane_ngrams(cls, value: dict[int, float]) -> dict[int, float]:
        for n, frac in value.items():
            if not 1 <= n <= 32 or not 0 <= frac <= 1:
                raise ValueError(f"each entry must be n in 1..32 -> fraction in 0..1, got {n}: {frac}")
        return value


class LanguageConfig(StrictConfig):
    """Keep documents whose detected language is allowed (models ship in the wheels)."""

    enabled: bool = True
    languages: tuple[str, ...] = Field(("en",), min_length=1, description="ISO 639-1 codes to keep.")
    backend: Literal["cld2", "langid"] = Field(
        "cld2", description="cld2 (pycld2, fast C++) or langid (py3langid, pure Python, slower)."
    )
    min_confidence: float = Field(
        0.5,
        ge=0,
        le=1,
        description="cld2: share of the text in the best language; langid: its probability.",
    )
    max_chars: int = Field(5000, ge=100, description="Classify this many leading characters.")


DEFAULT_AI_PHRASES: tuple[str, ...] = (
    "as an ai",
    "as a language model",
    "i'm sorry, but i can",
    "i am sorry, but i can",
    "i cannot fulfill",
    "i can't assist with",
    "i hope this helps",
    "feel free to ask",
    "here is the revised",
    "here's the revised",
    "here is a revised",
    "here's a revised",
    "sure, here is",
    "sure! here is",
    "sure, here's",
    "certainly! here",
    "certainly, here",
)

DEFAULT_SCAFFOLD_PATTERNS: tuple[str, ...] = (
    # expert roles of the scaffold (by name; "a domain expert" alone is plain English)
    r"summarizer expert",
    r"content analyst expert",
    r"keyword extraction expert",
    r"domain expert\s*[:\]>]",
    r"expert (?:name|instructions?)\s*:",
    # speaker labels and the conductor's bookkeeping
    r"^\s*(?:conductor|expert|system|user|assistant)\s*:|^\s*>>\s*final",
    r"conductor (?:asks|asked|says|decides|instructs|requests)\b",
    r"instance classification table",
    r"final (?:answer|document)\s*:",
    r"seed keywords?\s*:",
    # chat-template tokens
    r"<\|im_(?:start|end)\|>|<\|endoftext\|>|\[/?inst\]",
)


class ArtefactConfig(StrictConfig):
    """Leftovers of the generation scaffold that must not reach training data."""

    enabled: bool = True
    json_fragment: bool = Field(True, description="JSON objects, key/value lines or ```json fences.")
    min_json_lines: int = Field(2, ge=1, description='`"key": value` lines that make a JSON fragment.')
    ai_phrases: tuple[str, ...] = Field(
        DEFAULT_AI_PHRASES,
        description="Case-insensitive substrings of assistant talk; () disables.",
    )
    scaffold_patterns: tuple[str, ...] = Field(
        DEFAULT_SCAFFOLD_PATTERNS,
        description="Multiline regexes of conductor/expert chatter, searched in the lowercased "
        "text (write them lowercase; a literal first word makes them ~10x faster); () disables.",
    )
    unfinished_ending: bool = Field(True, description="Drop documents that stop mid-sentence.")
    terminal_chars: str = Field(
        ".!?\"')]}`*…|>”’»",
        description="Characters a finished document may end with (not ':' or ';': a document "
        "announcing a list that never comes was cut off).",
    )


class EvalSetConfig(StrictConfig):
    """One evaluation set: a local file/dir (parquet, jsonl, json, txt) or a `datasets` id."""

    name: str | None = Field(None, description="Label in reports; defaults to the path.")
    path: str = Field(description="Local file or directory, or a Hub dataset id.")
    config: str | None = Field(None, description="`datasets` configuration name (Hub ids).")
    split: str | None = Field(
        None, description="Split to load; default: every split of a Hub id, the files as they are."
    )
    fields: tuple[str, ...] = Field(
        (),
        description="Text columns; default: every string column (a .txt file: one passage a line).",
    )

    @property
    def label(self) -> str:
        """Name in rules and reports: `name`, else a local file's name (no home paths in
        cards), else the dataset id."""
        if self.name:
            return self.name
        return Path(self.path).name if Path(self.path).exists() else self.path


class DecontaminationConfig(StrictConfig):
    """Drop documents sharing word n-grams with evaluation passages (GPT-3 style)."""

    enabled: bool = True
    ngram: int = Field(13, ge=3, le=64, description="Words per n-gram.")
    min_ngram: int = Field(
        8,
        ge=3,
        description="Passages shorter than `ngram` words but at least this long match whole.",
    )
    min_matches: int = Field(1, ge=1, description="Matching n-grams needed to drop a document.")
    eval_sets: tuple[EvalSetConfig, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> DecontaminationConfig:
        if self.min_ngram > self.ngram:
            raise ValueError(f"min_ngram ({self.min_ngram}) must not exceed ngram ({self.ngram})")
        return self


class CleanConfig(StrictConfig):
    """All cleaning rules. Order of application: exact dedup, length, artefacts, repetition,
    language, decontamination, near dedup (so only kept documents can stand for a cluster)."""

    exact: ExactDedupConfig = Field(default_factory=ExactDedupConfig)
    length: LengthConfig = Field(default_factory=LengthConfig)
    artefacts: ArtefactConfig = Field(default_factory=ArtefactConfig)
    repetition: RepetitionConfig = Field(default_factory=RepetitionConfig)
    language: LanguageConfig = Field(default_factory=LanguageConfig)
    decontamination: DecontaminationConfig = Field(default_factory=DecontaminationConfig)
    near: NearDedupConfig = Field(default_factory=NearDedupConfig)
    batch_size: int = Field(1000, ge=1, description="Records read per batch (memory vs. speed).")

    @classmethod
    def all_off(cls) -> CleanConfig:
        """A config with every rule disabled; turn rules on one at a time (tests, ablations)."""
        off = {"enabled": False}
        return cls.model_validate({name: off for name in _RULE_SECTIONS})


_RULE_SECTIONS = (
    "exact",
    "length",
    "artefacts",
    "repetition",
    "language",
    "decontamination",
    "near",
)
