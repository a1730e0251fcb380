"""The generation bar's label: what it counts, the method named once, shards counted from 1."""

from __future__ import annotations

from metasynth_hf.config import RunConfig
from metasynth_hf.progress import GenerationProgress, bar_label


def test_the_bar_names_the_method_once_and_counts_shards_from_one():
    assert bar_label(RunConfig(num_docs=4)) == "metasynth documents"
    sharded = RunConfig(method="template", num_docs=8, num_shards=4, shard_index=1)
    assert bar_label(sharded) == "template documents, shard 2/4"
    bar = GenerationProgress(RunConfig(num_docs=4), enabled=False)
    try:
        assert bar.desc == "metasynth documents"
    finally:
        bar.close()
