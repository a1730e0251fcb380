"""MetaSynth corpora as a `datasets` builder script.

datasets 3.x (runs scripts):
    datasets.load_dataset("builders/metasynth", "finance", num_docs=8, trust_remote_code=True)
datasets 4+ (refuses scripts; the same call through metasynth-hf):
    metasynth_hf.load_dataset("builders/metasynth", "finance", num_docs=8)

Configs: finance, biomedicine (MetaSynth, keyword seeds), <domain>-template,
<domain>-template_prior, <domain>-template_icl, <domain>-topic-aware, <domain>-instruct,
custom. Every generation setting is a keyword argument (see metasynth_hf.builder).
"""

from metasynth_hf.builder import MetaSynthBuilder, MetaSynthConfig

__all__ = ["MetaSynth", "MetaSynthConfig"]


class MetaSynth(MetaSynthBuilder):
    """The builder `load_dataset` finds in this script."""
