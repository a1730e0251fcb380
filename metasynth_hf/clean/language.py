"""Language filter: py3langid (langid.py's model, shipped inside the wheel, no download).

fastText's lid.176 is the usual choice but its weights come from the network at run time,
which air-gapped clusters and these machines do not allow; langid's naive Bayes model is
part of the package. Only the leading `max_chars` characters are classified (the per-byte
DFA walk is the cost), which is plenty for a document-level decision.
"""

from __future__ import annotations

import functools
import logging

from metasynth_hf.clean.config import LanguageConfig
from metasynth_hf.clean.text import Doc, Verdict
from metasynth_hf.errors import ConfigError, missing_dependency

logger = logging.getLogger(__name__)


@functools.cache
def load_identifier() -> object:
    """py3langid's identifier with normalised probabilities (confidence in 0..1); loaded once
    per process (unpacking the model takes seconds) and never mutated."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError as exc:
        raise missing_dependency("py3langid", "clean") from exc
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


class LanguageFilter:
    """Drops documents whose best language is not allowed or is too uncertain."""

    section = "language"

    def __init__(self, config: LanguageConfig):
        self.config = config
        self.allowed = set(config.languages)
        self._identifier = load_identifier()
        labels = set(self._identifier.labels)  # type: ignore[attr-defined]
        unknown = sorted(self.allowed - labels)
        if unknown:
            raise ConfigError(
                f"language.languages: unknown code(s) {unknown}; use ISO 639-1 codes such as 'en', 'de'"
            )

    def check(self, doc: Doc) -> Verdict | None:
        sample = doc.text[: self.config.max_chars]
        if not sample.strip():
            return Verdict("language.undetected", "empty text")
        lang, confidence = self._identifier.classify(sample)  # type: ignore[attr-defined]
        if lang not in self.allowed:
            return Verdict("language.not_allowed", f"detected {lang} ({confidence:.2f})")
        if confidence < self.config.min_confidence:
            return Verdict(
                "language.low_confidence",
                f"{lang} at {confidence:.2f} < min_confidence {self.config.min_confidence}",
            )
        return None

    def keep(self, doc: Doc) -> None:
        """Stateless."""
