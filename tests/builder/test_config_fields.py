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
