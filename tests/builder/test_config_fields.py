"""The builder config re-declares RunConfig's fields (datasets needs a dataclass); this test
keeps the two in step, so a new RunConfig field cannot be forgotten by the builder."""

from __future__ import annotations

import dataclasses

from metasynth_hf.builder import RUN_FIELDS, MetaSynthConfig
from metasynth_hf.config import RunConfig

#: RunConfig fields the builder sets itself: the work dir comes from the datasets cache.
BUILDER_OWNED = {"output_dir"}


def test_every_run_config_field_is_a_builder_field():
    assert set(RUN_FIELDS) == set(RunConfig.model_fields) - BUILDER_OWNED
    builder_fields = {f.name for f in dataclasses.fields(MetaSynthConfig)}
    assert set(RUN_FIELDS) <= builder_fields
    assert builder_fields >= BUILDER_OWNED


def test_builder_fields_default_to_run_config_defaults():
    """None means 'RunConfig's default': the builder never invents a default of its own."""
    config = MetaSynthConfig(name="finance")
    assert all(getattr(config, name) is None for name in RUN_FIELDS)


def test_builder_configs_follow_the_method_registry(monkeypatch):
    from metasynth_hf.builder import _default_configs
    from metasynth_hf.generation.methods import METHODS, MethodSpec

    assert {c.method or "metasynth" for c in _default_configs()} == set(METHODS)
    monkeypatch.setitem(METHODS, "shout", MethodSpec("tests:Nothing", "shouted documents", seeds="topic_aware"))
    shout = next(c for c in _default_configs() if c.name == "finance-shout")
    assert shout.method == "shout" and "shouted documents" in shout.description and "topic_aware" in shout.description
    shout.seeds = {"corpus": "real.parquet"}
    assert shout.run_config().seeds.kind == "topic_aware"  # the registry's seed need, not its name
