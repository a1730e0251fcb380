"""Corpus hygiene before training: exact and near-duplicate removal, quality filters,
benchmark decontamination. Every removed record is kept aside with the rule that removed it.

    from metasynth_hf.clean import CleanConfig, clean_corpus
    result = clean_corpus(dataset_or_records, CleanConfig())
    result.kept, result.removed, result.report["removed_by_rule"]
"""

from metasynth_hf.clean.config import (
    ArtefactConfig,
    CleanConfig,
    DecontaminationConfig,
    EvalSetConfig,
    ExactDedupConfig,
    LanguageConfig,
    LengthConfig,
    NearDedupConfig,
    RepetitionConfig,
)
from metasynth_hf.clean.pipeline import (
    DETAIL_COLUMN,
    RULE_COLUMN,
    Cleaner,
    CleanResult,
    clean_corpus,
    iter_clean,
)
from metasynth_hf.clean.report import render_markdown

__all__ = [
    "DETAIL_COLUMN",
    "RULE_COLUMN",
    "ArtefactConfig",
    "CleanConfig",
    "CleanResult",
    "Cleaner",
    "DecontaminationConfig",
    "EvalSetConfig",
    "ExactDedupConfig",
    "LanguageConfig",
    "LengthConfig",
    "NearDedupConfig",
    "RepetitionConfig",
    "clean_corpus",
    "iter_clean",
    "render_markdown",
]
