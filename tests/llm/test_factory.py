"""Role models: shared backends per config, one cache, per-role and per-endpoint accounting."""

from __future__ import annotations

import asyncio

from metasynth_hf.llm.accounting import UsageMeter
from metasynth_hf.llm.base import Reply, SamplingParams, Usage
from metasynth_hf.llm.config import EndpointConfig, ModelConfig
from metasynth_hf.llm.endpoints import EndpointPool
from metasynth_hf.llm.factory import RoleModels
from metasynth_hf.llm.local import LocalChatModel


class Echo:
    """A scripted backend: answers with the last message, counts calls."""

    model_id = "echo"

    def __init__(self):
        self.calls = 0

    async def chat(self, messages, params=None):
        self.calls += 1
        return Reply(
            messages[-1]["content"].upper(),
            Usage(3, 2),
            model="echo",
            endpoint="e1",
            latency_s=0.01,
        )

    async def aclose(self):
        pass


def test_roles_sharing_a_config_share_one_backend(tmp_path):
    local = ModelConfig()
    remote = ModelConfig(endpoints=[EndpointConfig(url="http://127.0.0.1:9", model="m")])
    roles = RoleModels(
        {"conductor": local, "domain_expert": local, "summarizer": remote}, cache_path=tmp_path / "c.sqlite"
    )
    backends = roles._backends
    assert len(backends) == 2
    assert isinstance(backends[local], LocalChatModel) and isinstance(backends[remote], EndpointPool)
    assert roles.model_ids() == {
        "conductor": backends[local].model_id,
        "domain_expert": backends[local].model_id,
        "summarizer": "m",
    }
    asyncio.run(roles.aclose())


def test_cache_and_meter_layers(tmp_path):
    roles = RoleModels(
        {"conductor": ModelConfig(), "summarizer": ModelConfig()}, cache_path=tmp_path / "c.sqlite", meter=UsageMeter()
    )
    echo = Echo()
    roles._backends = {cfg: echo for cfg in roles._backends}
    for model in roles.models.values():  # rebuild the layers over the scripted backend
        model.inner.inner = echo
    msgs = [{"role": "user", "content": "hi"}]

    async def run():
        a = await roles["conductor"].chat(msgs, SamplingParams(seed=1))
        b = await roles["summarizer"].chat(msgs, SamplingParams(seed=1))  # same key: cache hit
        c = await roles["summarizer"].chat(msgs, SamplingParams(seed=2))
        return a, b, c

    a, b, c = asyncio.run(run())
    assert (a.text, b.cached, c.cached, echo.calls) == ("HI", True, False, 2)
    snap = roles.meter.snapshot()
    assert snap["by_role"]["summarizer"]["cache_hits"] == 1 and snap["by_role"]["conductor"]["calls"] == 1
    assert snap["by_endpoint"]["e1"]["calls"] == 2  # cached answers cost no endpoint call
    assert snap["total"]["completion_tokens"] == 6
