"""The `seeds:` section of a run config, and the one function that builds a Seeder from it.

```yaml
seeds:
  kind: keyword            # or topic_aware
  keyword: {k: 3, expanded_per_doc: 1}
  corpus: data/finance_cc.parquet   # topic_aware only: files, a folder or a Hub id
  topic_aware: {text_column: text, refresh_every: 8, k_min: 2, k_max: 6, threshold: 0.45}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from metasynth_hf.config_io import StrictConfig
from metasynth_hf.errors import ConfigError
from metasynth_hf.seeds.domains import Domain
from metasynth_hf.seeds.keyword import KeywordSeeder
from metasynth_hf.seeds.topic_aware import TopicAwareConfig, TopicAwareSeeder
from metasynth_hf.seeds.types import Seeder


class KeywordSeedsConfig(StrictConfig):
    """Keyword-based seeds: `k` domain keywords per document plus expanded ones."""

    k: int = Field(3, ge=1)
    expanded_per_doc: int = Field(1, ge=0)


class SeedsConfig(StrictConfig):
    """Which seed selection a run uses, and its settings."""

    kind: Literal["keyword", "topic_aware"] = "keyword"
    keyword: KeywordSeedsConfig = KeywordSeedsConfig()
    corpus: str | list[str] | None = None
    topic_aware: TopicAwareConfig = TopicAwareConfig()

    @model_validator(mode="after")
    def _corpus_for_topic_aware(self) -> SeedsConfig:
        if self.kind == "topic_aware" and not self.corpus:
            raise ValueError(
                "seeds.corpus is required for topic_aware seeds: parquet/jsonl files, a folder "
                "of them, or a Hub dataset id"
            )
        return self


def build_seeder(
    config: SeedsConfig,
    domain: Domain | str | Path | dict[str, Any],
    *,
    seed: int = 0,
    corpus: Any = None,
    lanes: int = 1,
) -> Seeder:
    """A Seeder for this run; `corpus` (e.g. an in-memory Dataset) overrides config.corpus."""
    if config.kind == "keyword":
        return KeywordSeeder(domain, k=config.keyword.k, seed=seed, expanded_per_doc=config.keyword.expanded_per_doc)
    source = corpus if corpus is not None else config.corpus
    if source is None:
        raise ConfigError("seeds.corpus: topic_aware seeds need a corpus; set seeds.corpus")
    return TopicAwareSeeder(source, config.topic_aware, seed=seed, lanes=lanes)
