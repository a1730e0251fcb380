"""Typed configuration: wrong fields, types and values are named before any model call."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from metasynth_hf.config_io import load_config, parse_override
from metasynth_hf.errors import ConfigError
from metasynth_hf.llm.config import EndpointConfig, ModelConfig


class Wrapper(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conductor: ModelConfig = ModelConfig()


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("conductor:\n  endpoints:\n    - url: http://127.0.0.1:8080/v1/\n")
    cfg = load_config(Wrapper, path, {"conductor.parallel": 4})
    assert cfg.conductor.endpoints[0].url == "http://127.0.0.1:8080"
    assert cfg.conductor.parallel == 4 and cfg.conductor.backend == "endpoints"


@pytest.mark.parametrize(
    "yaml_text, needle",
    [
        ("conductor:\n  modle: x\n", "conductor.modle: unknown field"),
        ("conductor:\n  parallel: lots\n", "conductor.parallel"),
        ("conductor:\n  parallel: 0\n", "greater than or equal to 1"),
        ("conductor:\n  endpoints:\n    - url: ftp://x\n", "must start with http"),
        ("conductor:\n  endpoints:\n    - url: http://a:1\n      server_kind: grpc\n", "'tgi'"),
        ("- just\n- a list\n", "must hold a mapping"),
    ],
)
def test_errors_name_the_field_and_what_is_allowed(tmp_path, yaml_text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(Wrapper, path)
    assert needle in str(info.value)


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Wrapper, tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="field=value"):
        parse_override("num_docs")
    assert parse_override("a.b=[1, 2]") == ("a.b", [1, 2])


def test_duplicate_endpoint_urls_are_rejected():
    with pytest.raises(ValueError, match="each url must appear once"):
        ModelConfig(endpoints=[EndpointConfig(url="http://a:1"), EndpointConfig(url="http://a:1/")])


def test_the_demo_recipe_is_a_valid_run_sized_for_a_small_cpu():
    from metasynth_hf.config import RunConfig

    config = load_config(RunConfig, "recipes/demo.yaml")
    assert config.method == "metasynth" and config.lanes < config.num_docs
    assert not config.conductor.endpoints  # the embedded model
    # short expert answers and few turns; conductor turns long enough for the grammar-bounded
    # JSON to hold real instructions (turn_schema bounds the text to the budget)
    from metasynth_hf.generation.turns import text_limit

    assert config.expert_sampling.max_tokens <= 200 and config.stop.max_turns <= 5
    # documents end at a full sentence: the word cap falls before the token cap (~3/4 word a token)
    assert config.stop.max_words and config.stop.max_words <= config.expert_sampling.max_tokens * 3 // 4
    assert text_limit(config.conductor_sampling.max_tokens, 7) >= 100 and config.conductor_sampling.max_tokens <= 300
