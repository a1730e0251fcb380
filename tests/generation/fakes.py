"""A scripted ChatModel for deterministic tests of the scaffold's logic.

It implements the chat protocol (no HTTP mocking). The role of each call is the key the
scaffold looked the model up by (`models[role]`, as RoleModels serves it), never read from
the prompt, so rewording a prompt fails no test; the answer is a pure function of (role,
messages, seed), so runs are reproducible and different seeds give different text.
Real-model tests live in test_real_model.py.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping

from metasynth_hf.llm.base import Message, Reply, SamplingParams, Usage

_WORDS = """liquidity yield credit spread hedging duration covenant treasury equity leverage
default collateral margin volatility dividend capital reserve audit tariff pension annuity swap
option futures bond loan mortgage inflation deposit settlement clearing custody"""
WORDS = tuple(_WORDS.split())


def prose(seed: int | None, n: int = 60, prefix: str = "") -> str:
    rng = random.Random(seed)
    sentences = []
    for _ in range(n // 10):
        words = rng.sample(WORDS, 10)
        sentences.append(" ".join(words).capitalize() + ".")
    return (prefix + " " if prefix else "") + " ".join(sentences)


def conductor_turns(messages: list[Message]) -> int:
    """How many conductor turns are already in the history (assistant messages)."""
    return sum(1 for m in messages if m["role"] == "assistant")


GOOD_PLAN = [
    {
        "action": "call_expert",
        "expert": "seed_keywords",
        "instructions": "Expand.",
        "share": ["seeds"],
    },
    {
        "action": "call_expert",
        "expert": "Domain Expert",
        "instructions": "Write it.",
        "share": "seeds, keywords",
    },
    {
        "action": "call_expert",
        "expert": "content_analyst",
        "instructions": "Compare.",
        "share": ["draft", "instance_table"],
    },
    {
        "action": "call_expert",
        "expert": "domain_expert",
        "instructions": "Revise.",
        "share": ["draft", "analysis"],
    },
    {"action": "final"},
]


def default_answer(role: str, messages: list[Message], params: SamplingParams) -> str:
    seed = params.seed
    if role == "conductor":
        turn = conductor_turns(messages)
        return json.dumps(GOOD_PLAN[min(turn, len(GOOD_PLAN) - 1)])
    if role == "iconductor":
        return json.dumps({"action": "final"})
    if role == "seed_keywords":
        rng = random.Random(seed)
        return ", ".join(rng.sample(WORDS, 4))
    if role in ("domain_expert", "writer"):
        return prose(seed, 60)
    if role == "summarizer" or role == "memory":
        return f"A summary number {seed} about {random.Random(seed).choice(WORDS)}."
    if role == "topic_labeler":
        rng = random.Random(seed)
        return (
            f"Category: {rng.choice(['Markets', 'Banking', 'Risk'])}\nTopic: {rng.choice(WORDS)} {rng.choice(WORDS)}"
        )
    if role == "content_analyst":
        return "1. Use a different angle. 2. Avoid stock phrases."
    if role == "question_editor":
        return f"How would a treasurer weigh {random.Random(seed).choice(WORDS)} against risk {seed}?"
    if role == "responder":
        return prose(seed, 40, "Answer:")
    return f"{role} says {seed}"


class ScriptedModel:
    """ChatModel fake. `answer(role, messages, params) -> str` decides each reply, and
    `finish(role, text) -> str` its finish reason ("length": cut at max_tokens)."""

    def __init__(
        self,
        answer: Callable[[str, list[Message], SamplingParams], str] = default_answer,
        *,
        model_id: str = "scripted",
        delay: Callable[[str, SamplingParams], float] | None = None,
        finish: Callable[[str, str], str] | None = None,
    ):
        self.answer = answer
        self._model_id = model_id
        self.delay = delay
        self.finish = finish
        self.calls: list[tuple[str, list[Message], SamplingParams]] = []

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def roles(self) -> Counter:
        return Counter(role for role, _, _ in self.calls)

    def for_role(self, role: str) -> RoleView:
        """The ChatModel the scaffold gets for `role` (what `models[role]` returns)."""
        return RoleView(self, role)

    async def chat(self, messages: list[Message], params: SamplingParams | None = None, *, role: str = "") -> Reply:
        if not role:
            raise TypeError("ScriptedModel answers by role: reach it through AnyRole or for_role(role)")
        params = params or SamplingParams()
        if self.delay is not None:
            await asyncio.sleep(self.delay(role, params))
        else:
            await asyncio.sleep(0)
        self.calls.append((role, messages, params))
        text = self.answer(role, messages, params)
        prompt = sum(len(m["content"]) for m in messages) // 4
        finish = self.finish(role, text) if self.finish is not None else None
        usage = Usage(prompt, len(text) // 4 + 1)
        return Reply(text, usage, model=self._model_id, latency_s=0.01, finish_reason=finish)

    async def aclose(self) -> None:
        return None


class RoleView:
    """One role's ChatModel over a ScriptedModel."""

    def __init__(self, model: ScriptedModel, role: str):
        self.model, self.role = model, role

    @property
    def model_id(self) -> str:
        return self.model.model_id

    async def chat(self, messages: list[Message], params: SamplingParams | None = None) -> Reply:
        return await self.model.chat(messages, params, role=self.role)

    async def aclose(self) -> None:
        return None


class AnyRole(Mapping):
    """Every role answered by the same model (what RoleModels does with one ModelConfig).

    A ScriptedModel is reached through `for_role`, so it knows each call's role. The
    instruction-writing conductor (method `instruct`) answers as `iconductor`. `wrap` puts
    a layer over each role's model (e.g. the response cache)."""

    def __init__(self, model, *, method: str = "metasynth", wrap: Callable | None = None):
        self.model, self.method, self.wrap = model, method, wrap

    def __getitem__(self, role: str):
        model = self.model
        if hasattr(model, "for_role"):
            model = model.for_role("iconductor" if role == "conductor" and self.method == "instruct" else role)
        return self.wrap(model) if self.wrap is not None else model

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0
