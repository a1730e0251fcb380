"""Language filter; both backends ship their model inside the wheel, so nothing is downloaded.

fastText's lid.176 is the usual choice but its weights come from the network at run time,
which air-gapped clusters and these machines do not allow. The default, CLD2 (`pycld2`,
Chromium's detector in C++), costs ~0.1 ms per document; `langid` (py3langid, naive Bayes
in numpy and a Python byte loop) is ~50x slower (measured in benchmarks/bench_clean.py) and
there as a pure-Python fallback. Only the leading `max_chars` characters are classified.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable

from metasynth_hf.clean.config import LanguageConfig
from metasynth_hf.clean.text import Doc, Verdict
from metasynth_hf.errors import ConfigError, missing_dependency

logger = logging.getLogger(__name__)

#: Characters CLD2 rejects as invalid UTF-8 (controls, lone surrogates); removed on retry.
_CLD2_REJECTS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: CLD2's legacy codes -> ISO 639-1 as written in configs.
_CLD2_ALIASES = {"iw": "he", "jw": "jv", "zh-Hant": "zh", "in": "id"}

Classify = Callable[[str], tuple[str, float]]


def _cld2() -> tuple[Classify, set[str]]:
    try:
        import pycld2
    except ImportError as exc:
        raise missing_dependency("pycld2", "clean") from exc

    def classify(text: str) -> tuple[str, float]:
        try:
            _, _, details = pycld2.detect(text)
        except (pycld2.error, UnicodeEncodeError):
            _, _, details = pycld2.detect(_CLD2_REJECTS.sub("", text))
        _, code, percent, _ = details[0]
        return _CLD2_ALIASES.get(code, code), percent / 100.0

    codes = {_CLD2_ALIASES.get(code, code) for _, code in pycld2.LANGUAGES}
    return classify, codes


@functools.cache
def _langid_identifier() -> object:
    """Unpacking py3langid's model takes seconds: once per process; it is never mutated."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError as exc:
        raise missing_dependency("py3langid", "clean") from exc
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _langid() -> tuple[Classify, set[str]]:
    identifier = _langid_identifier()
    return identifier.classify, set(identifier.labels)  # type: ignore[attr-defined]


_BACKENDS = {"cld2": _cld2, "langid": _langid}


class LanguageFilter:
    """Drops documents whose best language is not allowed, or is too small a share."""

    section = "language"

    def __init__(self, config: LanguageConfig):
        self.config = config
        self.allowed = set(config.languages)
        self._classify, known = _BACKENDS[config.backend]()
        unknown = sorted(self.allowed - known)
        if unknown:
            raise ConfigError(
                f"language.languages: {unknown} unknown to the {config.backend} backend; "
                "use ISO 639-1 codes such as 'en', 'de'"
            )

    def check(self, doc: Doc) -> Verdict | None:
        lang, confidence = self._classify(doc.text[: self.config.max_chars])
        if lang in ("un", "und"):
            return Verdict("language.undetected", f"{self.config.backend} found no language")
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
