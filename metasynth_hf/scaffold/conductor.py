"""The conductor loop: the meta-LM picks an expert and writes its instructions, turn by turn.

Generic over what is being made (a document for MetaSynth, an instruction for Instruct): a
LoopSpec names the experts, the shareable artifacts and two protocol rules. A reply that
cannot be parsed is re-asked once with the parse error; if that fails too, the next step of
the fixed expert order runs instead and the fallback is recorded. A FINAL that comes before
the required experts ran is answered by running the missing step. Nothing here raises on a
weak model's output; only the budget (turns, tokens) ends a loop early.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from metasynth_hf.config import SamplingConfig
from metasynth_hf.errors import MetaSynthError, ParseError
from metasynth_hf.llm.base import Message
from metasynth_hf.scaffold.calls import Caller, DocTrace, TokenBudgetExhausted
from metasynth_hf.scaffold.memory import ConductorMemory, Summarize
from metasynth_hf.scaffold.prompts import PromptSet, RoleSpec
from metasynth_hf.scaffold.text import clean_output, excerpt
from metasynth_hf.scaffold.turns import Turn, examples, parse_turn, turn_schema

logger = logging.getLogger(__name__)


class NoFinalError(MetaSynthError):
    """The conductor never said FINAL within `stop.max_turns` and `stop.strict_final` is set."""


@dataclass
class Workspace:
    """The artifacts of one loop (seeds, draft, analysis, ...) and how often each expert ran."""

    artifacts: dict[str, str] = field(default_factory=dict)
    versions: dict[str, list[str]] = field(default_factory=dict)
    calls: Counter = field(default_factory=Counter)

    def put(self, name: str, text: str) -> None:
        self.versions.setdefault(name, []).append(text)
        if text:
            self.artifacts[name] = text


@dataclass(frozen=True)
class LoopSpec:
    """What a loop may do: its experts, artifacts, prompts and protocol rules."""

    experts: dict[str, RoleSpec]
    artifacts: dict[str, str]
    system: str
    task: str
    role_vars: dict[str, Any]
    #: The expert that must run before FINAL is accepted, or None.
    next_required: Callable[[Workspace], str | None]
    #: The next step of the fixed expert order (None = FINAL) for unusable replies.
    fallback_step: Callable[[Workspace], str | None]
    observation_chars: int = 2400
    #: Roles the scaffold calls itself (not offered to the conductor), e.g. the responder.
    extra_experts: dict[str, RoleSpec] = field(default_factory=dict)

    def role(self, name: str) -> RoleSpec:
        return self.experts.get(name) or self.extra_experts[name]


@dataclass(frozen=True)
class Outcome:
    """How a loop ended: final, final_fallback, max_turns or token_budget."""

    status: str
    turns: int
    document: str = ""


class ConductorLoop:
    """Runs one conductor loop over a Workspace."""

    def __init__(
        self,
        spec: LoopSpec,
        prompts: PromptSet,
        caller: Caller,
        trace: DocTrace,
        memory: ConductorMemory,
        *,
        conductor_sampling: SamplingConfig,
        expert_sampling: SamplingConfig,
        max_turns: int,
        summarize: Summarize | None = None,
    ):
        self.spec, self.prompts, self.caller, self.trace = spec, prompts, caller, trace
        self.memory = memory
        self.conductor_sampling, self.expert_sampling = conductor_sampling, expert_sampling
        self.max_turns = max_turns
        self.summarize = summarize
        self.names = list(spec.experts)
        self.artifact_names = list(spec.artifacts)
        self.schema = turn_schema(self.names, self.artifact_names)
        self.example_call, self.example_final = examples(self.names, self.artifact_names)

    async def run(self, ws: Workspace) -> Outcome:
        turn = 0
        try:
            while turn < self.max_turns:
                turn += 1
                await self.memory.fit(self.summarize)
                decision = await self._decide(turn)
                note = ""
                if decision is not None and decision.action == "final":
                    missing = self.spec.next_required(ws)
                    if missing is None:
                        self.trace.turns.append(
                            {"turn": turn, "action": "final", "source": "conductor"}
                        )
                        return Outcome("final", turn, decision.document)
                    self.trace.fallback(turn, f"FINAL before {missing} ran", action=missing)
                    note = f"FINAL is not possible yet: {missing} must run first, so the scaffold called it."
                    decision = self._fixed_turn(missing)
                elif decision is None:
                    step = self.spec.fallback_step(ws)
                    if step is None:
                        self.trace.turns.append(
                            {"turn": turn, "action": "final", "source": "fallback"}
                        )
                        return Outcome("final_fallback", turn)
                    note = (
                        f"Your reply could not be used, so the scaffold called {step} (fixed plan)."
                    )
                    decision = self._fixed_turn(step)
                source = "fallback" if note else "conductor"
                output = await self.call_expert(ws, decision, turn=turn, source=source)
                observation = self._observation(ws, decision.expert, output, note, turn)
                self.memory.add(decision.to_json(), observation)
        except TokenBudgetExhausted as exc:
            logger.info("%s", exc)
            return Outcome("token_budget", turn)
        return Outcome("max_turns", turn)

    def fixed_turn(self, expert: str) -> Turn:
        """The turn the fixed plan makes for `expert`: its default instructions and share."""
        return self._fixed_turn(expert)

    def _fixed_turn(self, expert: str) -> Turn:
        role = self.spec.role(expert)
        share = tuple(a for a in role.default_share if a in self.spec.artifacts)
        return Turn(
            "call_expert", expert=expert, instructions=role.default_instructions, share=share
        )

    async def _decide(self, turn: int) -> Turn | None:
        """The conductor's turn; re-asked once with the parse error; None if still unusable."""
        messages = self.memory.messages()
        text = await self._ask(messages, turn, attempt=0)
        try:
            return parse_turn(text, self.names, self.artifact_names)
        except ParseError as first:
            reask = self.prompts.render(
                "conductor/reask", error=str(first),
                json_example_call=self.example_call, json_example_final=self.example_final,
            )  # fmt: skip
            retry: list[Message] = messages + [
                {"role": "assistant", "content": excerpt(text, 600) or "(empty reply)"},
                {"role": "user", "content": reask},
            ]
            text2 = await self._ask(retry, turn, attempt=1)
            try:
                turn_ = parse_turn(text2, self.names, self.artifact_names)
            except ParseError as second:
                self.trace.fallback(turn, f"unparseable twice: {second}", raw=text2)
                return None
            self.trace.fallback(turn, f"re-asked after: {first}", raw=text, action="reask_ok")
            return turn_

    async def _ask(self, messages: list[Message], turn: int, attempt: int) -> str:
        return await self.caller(
            "conductor", messages, self.conductor_sampling,
            turn=turn, attempt=attempt, json_schema=self.schema,
        )  # fmt: skip

    async def call_expert(
        self, ws: Workspace, turn_: Turn, *, turn: int, source: str = "conductor",
        bookkeeping: bool = False, attempt: int = 0,
    ) -> str:  # fmt: skip
        """Run one expert with only the shared artifacts; its output updates its artifact."""
        role = self.spec.role(turn_.expert)
        shared = {name: ws.artifacts[name] for name in turn_.share if ws.artifacts.get(name)}
        if turn_.context:
            shared["notes from the conductor"] = turn_.context
        instructions = turn_.instructions or role.default_instructions
        messages: list[Message] = [
            {"role": "system", "content": self.prompts.render(role.template, **self.spec.role_vars)},
            {"role": "user", "content": self.prompts.render(
                "experts/_request", instructions=instructions, shared=shared)},
        ]  # fmt: skip
        raw = await self.caller(
            turn_.expert,
            messages,
            self.expert_sampling,
            turn=turn,
            attempt=attempt,
            bookkeeping=bookkeeping,
        )
        output = clean_output(raw)
        ws.calls[turn_.expert] += 1
        ws.put(role.output, output)
        self.trace.experts.append(turn_.expert)
        self.trace.turns.append({
            "turn": turn, "action": "call_expert", "expert": turn_.expert, "source": source,
            "instructions": excerpt(instructions, 300), "share": list(turn_.share),
            "output_words": len(output.split()),
        })  # fmt: skip
        return output

    def _observation(self, ws: Workspace, expert: str, output: str, note: str, turn: int) -> str:
        return self.prompts.render(
            "conductor/observation", expert=expert, note=note,
            output=excerpt(output, self.spec.observation_chars) if output else "",
            turns_left=self.max_turns - turn,
            artifacts=[a for a in self.artifact_names if ws.artifacts.get(a)],
        )  # fmt: skip
