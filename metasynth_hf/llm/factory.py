"""Build the ChatModel each role uses, from config: backend, cache, accounting.

Layering per role: MeteredChatModel(role) -> CachedChatModel -> backend. Roles that share
a ModelConfig share one backend instance, so the embedded model batches conductor and expert
calls together and an endpoint pool's concurrency limit covers all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metasynth_hf.llm.accounting import MeteredChatModel, UsageMeter
from metasynth_hf.llm.base import ChatModel
from metasynth_hf.llm.cache import CachedChatModel, ResponseCache
from metasynth_hf.llm.config import ModelConfig


def build_backend(config: ModelConfig, *, share: int = 1) -> ChatModel:
    """The bare backend for one ModelConfig: an endpoint pool or the embedded model. `share`:
    how many processes (the shards of a run) share each server's stated concurrency limit."""
    if config.endpoints:
        from metasynth_hf.llm.endpoints import EndpointPool

        label = config.model if config.model != "smollm2" else config.endpoints[0].model
        return EndpointPool(list(config.endpoints), config.retry, model_id=label, share=share)
    from metasynth_hf.llm.local import LocalChatModel

    return LocalChatModel(
        config.model,
        parallel=config.parallel,
        context_tokens=config.context_tokens,
        threads=config.threads,
        grammar=config.grammar,
    )


class RoleModels:
    """Role name -> ChatModel, sharing backends and one cache; close once at the end."""

    def __init__(
        self,
        configs: dict[str, ModelConfig],
        *,
        cache_path: str | Path | None = None,
        meter: UsageMeter | None = None,
        share: int = 1,
    ):
        self.meter = meter or UsageMeter()
        self.cache = ResponseCache(cache_path) if cache_path else None
        self._backends: dict[ModelConfig, ChatModel] = {}
        self._configs = dict(configs)
        self.models: dict[str, ChatModel] = {}
        for role, config in configs.items():
            if config not in self._backends:
                self._backends[config] = build_backend(config, share=share)
            model: ChatModel = self._backends[config]
            if self.cache is not None:
                model = CachedChatModel(model, self.cache)
            self.models[role] = MeteredChatModel(model, self.meter, role)

    def __getitem__(self, role: str) -> ChatModel:
        try:
            return self.models[role]
        except KeyError:
            raise KeyError(f"no model configured for role {role!r}; known: {sorted(self.models)}") from None

    async def check_reachable(self) -> None:
        """Each endpoint pool checks that its servers accept connections (no model call)."""
        for backend in self._backends.values():
            check = getattr(backend, "check_reachable", None)
            if check is not None:
                await check()

    async def identify(self) -> dict[str, list[str]]:
        """ "conductor"/"experts" -> the model ids their servers report ([] for the embedded
        model, whose identity is its weights' digest, or a server that reports none)."""
        out: dict[str, list[str]] = {}
        for config, backend in self._backends.items():
            identify = getattr(backend, "identify", None)
            served = await identify() if identify is not None else []
            for role, role_config in self._configs.items():
                if role_config == config:
                    out.setdefault("conductor" if role == "conductor" else "experts", served)
        return out

    def backend_stats(self) -> dict[str, dict[str, Any]]:
        """What each backend did: the embedded engine its prefill saved, an endpoint pool per
        endpoint its server kind, structured-output mode and tallies, limits and concurrency."""
        out: dict[str, dict[str, Any]] = {}
        for backend in self._backends.values():
            stats = getattr(backend, "stats", None)
            report = getattr(backend, "report", None)
            if callable(report):
                out[backend.model_id] = {"endpoints": report()}
            elif isinstance(stats, dict) and stats:
                out[backend.model_id] = dict(stats)
        return out

    def model_ids(self) -> dict[str, str]:
        return {role: model.model_id for role, model in self.models.items()}

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        if self.cache is not None:
            self.cache.close()
