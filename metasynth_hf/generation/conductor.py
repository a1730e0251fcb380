"""The conductor loop: the meta-LM picks an expert and writes its instructions, turn by turn.

Generic over what is being made (a document for MetaSynth, an instruction for Instruct): a
LoopSpec names the experts, the shareable artifacts and two protocol rules. A reply that
cannot be parsed, or whose instructions are not the conductor's own (empty, the expert's
default, a copy of the example's placeholder), is re-asked once with the error; if that fails
too, the next step of the fixed expert order runs instead and the fallback is recorded. A FINAL
that comes before the required experts ran is answered by running the missing step. Every turn
is booked as the conductor's or the scaffold's (`generation/agency.py`). Nothing here raises on a
weak model's output; only the budget (turns, tokens) ends a loop early.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from metasynth_hf.config import SamplingConfig
from metasynth_hf.errors import ContextLengthError, MetaSynthError, ParseError
from metasynth_hf.generation.agency import Agency, unusable_instructions
from metasynth_hf.generation.calls import Caller, DocTrace, TokenBudgetExhausted
from metasynth_hf.generation.memory import ConductorMemory, Summarize
from metasynth_hf.generation.prompts import PromptSet, RoleSpec
from metasynth_hf.generation.text import clean_output, excerpt
from metasynth_hf.generation.turns import Turn, examples, parse_turn, turn_schema
from metasynth_hf.llm.base import Message, Reply

logger = logging.getLogger(__name__)


class NoFinalError(MetaSynthError):
    """The conductor never said FINAL within `stop.max_turns` and `stop.strict_final` is set."""


class UnusableInstructions(ParseError):
    """A well-formed turn whose instructions are empty, the default or the example's placeholder."""


@dataclass
class Workspace:
    """The artifacts of one loop (seeds, draft, analysis, ...) and how often each expert ran."""

    artifacts: dict[str, str] = field(default_factory=dict)
    versions: dict[str, list[str]] = field(default_factory=dict)
    calls: Counter = field(default_factory=Counter)
    #: Versions whose reply was cut at max_tokens (they stop where the cap fell).
    truncated: set[str] = field(default_factory=set)

    def put(self, name: str, text: str, *, truncated: bool = False) -> None:
        self.versions.setdefault(name, []).append(text)
        if text:
            self.artifacts[name] = text
        if truncated and text:
            self.truncated.add(text)


def unsatisfied(sequence: tuple[str, ...], calls: Counter) -> list[str]:
    """Steps of `sequence` not yet covered by the calls made (counting repeats)."""
    wanted: Counter = Counter()
    out = []
    for expert in sequence:
        wanted[expert] += 1
        if calls[expert] < wanted[expert]:
            out.append(expert)
    return out


@dataclass(frozen=True)
class LoopSpec:
    """What a loop may do: its experts, artifacts, prompts and protocol rules."""

    experts: dict[str, RoleSpec]
    artifacts: dict[str, str]
    system: str
    task: str
    role_vars: dict[str, Any]
    #: The plan followed when the conductor's replies are unusable (then FINAL).
    fixed_order: tuple[str, ...]
    #: Steps (with repeats) that must have run before a FINAL is accepted.
    required: tuple[str, ...]
    #: The artifact FINAL hands over, and the expert that writes it.
    final_artifact: str
    final_writer: str
    observation_chars: int = 2400
    #: Roles the scaffold calls itself (not offered to the conductor), e.g. the responder.
    extra_experts: dict[str, RoleSpec] = field(default_factory=dict)

    def role(self, name: str) -> RoleSpec:
        return self.experts.get(name) or self.extra_experts[name]

    def next_required(self, ws: Workspace) -> str | None:
        """The step that must run before FINAL, or None when FINAL may come."""
        missing = unsatisfied(self.required, ws.calls)
        if missing:
            return missing[0]
        return None if ws.artifacts.get(self.final_artifact) else self.final_writer

    def fallback_step(self, ws: Workspace) -> str | None:
        """The next step of the fixed order; None = the fixed plan's FINAL."""
        missing = unsatisfied(self.fixed_order, ws.calls)
        return missing[0] if missing else self.next_required(ws)

    def remaining(self, ws: Workspace) -> int:
        """How many steps FINAL still waits for."""
        missing = unsatisfied(self.required, ws.calls)
        pending_writer = self.final_writer in missing or ws.artifacts.get(self.final_artifact)
        return len(missing) + (0 if pending_writer else 1)


@dataclass(frozen=True)
class Outcome:
    """How a loop ended: final, final_fallback, max_turns or token_budget."""

    status: str
    turns: int
    document: str = ""
    #: The conductor's own `document` came in a reply cut at max_tokens.
    document_truncated: bool = False


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
        self.schema = turn_schema(self.names, self.artifact_names, conductor_sampling.max_tokens)
        self.example_call, self.example_final = examples(self.names, self.artifact_names, prompts.placeholder)
        self.agency = Agency()
        self._unusable = ""  # why the last unusable reply could not be used
        self._cut = False  # the reply `_decide` parsed was cut at max_tokens

    async def run(self, ws: Workspace) -> Outcome:
        outcome = await self._run(ws)
        self.agency.final_by = {"final": "conductor", "final_fallback": "scaffold"}.get(outcome.status, outcome.status)
        return outcome

    async def _run(self, ws: Workspace) -> Outcome:
        turn = 0
        last: tuple[str, str] | None = None
        try:
            while turn < self.max_turns:
                turn += 1
                left, need = self.max_turns - turn + 1, self.spec.remaining(ws)
                if need and need >= left:  # the last turns belong to the required steps
                    step = self.spec.next_required(ws) or self.spec.final_writer
                    self.trace.fallback(turn, f"{left} turn(s) left for {need} required step(s)", action=step)
                    self.agency.scaffold("reserved")
                    decision, note = self._fixed_turn(step), self._note("reserved", step)
                else:
                    await self.memory.fit(self.summarize)
                    decision, note = self._resolve(turn, await self._decide(turn), ws, last)
                    if decision.action == "final":
                        source = "fallback" if note else "conductor"
                        self.trace.turns.append({"turn": turn, "action": "final", "source": source})
                        status = "final_fallback" if note else "final"
                        return Outcome(status, turn, decision.document, self._cut and not note)
                last = (decision.expert, decision.instructions)  # a copy of it is a repeat
                source = "fallback" if note else "conductor"
                output = await self.call_expert(ws, decision, turn=turn, source=source)
                observation = self._observation(ws, decision.expert, output, note, turn)
                self.memory.add(decision.to_json(), observation)
        except TokenBudgetExhausted as exc:
            logger.info("%s", exc)
            return Outcome("token_budget", turn)
        return Outcome("max_turns", turn)

    def _resolve(
        self, turn: int, decision: Turn | None, ws: Workspace, last: tuple[str, str] | None
    ) -> tuple[Turn, str]:
        """The turn to run and, when the scaffold overrode the conductor, a note saying why."""
        if decision is not None and decision.action == "final":
            missing = self.spec.next_required(ws)
            if missing is None:
                self.agency.conductor_turns += 1
                return decision, ""
            step = self.spec.fallback_step(ws) or missing  # the fixed plan's next step
            self.trace.fallback(turn, f"FINAL before {missing} ran", action=step)
            self.agency.scaffold("early_final")
            return self._fixed_turn(step), self._note("early_final", step, missing=missing)
        if decision is not None and (decision.expert, decision.instructions) != last:
            self.agency.conductor_turns += 1
            return decision, ""
        if decision is not None:
            self.trace.fallback(turn, "repeated the previous turn", raw=decision.to_json())
            self.agency.scaffold("repeat")
            why = "repeat"
        else:
            self.agency.scaffold(self._unusable or "unparseable")
            why = "unusable"
        planned = self.spec.fallback_step(ws)
        if planned is None:
            return Turn("final"), self._note(why, "")
        return self._fixed_turn(planned), self._note(why, planned)

    def _note(self, reason: str, step: str, *, missing: str = "") -> str:
        """The scaffold's note to the conductor when it decided a turn (never empty)."""
        return self.prompts.render("conductor/scaffold_note", reason=reason, step=step, missing=missing)

    def fixed_turn(self, expert: str) -> Turn:
        """The turn the fixed plan makes for `expert`: its default instructions and share."""
        return self._fixed_turn(expert)

    def _fixed_turn(self, expert: str) -> Turn:
        role = self.spec.role(expert)
        share = tuple(a for a in role.default_share if a in self.spec.artifacts)
        return Turn("call_expert", expert=expert, instructions=role.default_instructions, share=share)

    async def _decide(self, turn: int) -> Turn | None:
        """The conductor's turn; re-asked once with the parse error; None if still unusable."""
        self._unusable = ""
        messages = self.memory.messages()
        reply = await self._ask(messages, turn, attempt=0)
        text, self._cut = reply.text or "", reply.truncated
        try:
            return self._parse(text)
        except ParseError as first:
            reask = self.prompts.render(
                "conductor/reask",
                error=str(first),
                json_example_call=self.example_call,
                json_example_final=self.example_final,
            )
            retry: list[Message] = messages + [
                {"role": "assistant", "content": excerpt(text, 600) or self.prompts.render("conductor/empty_reply")},
                {"role": "user", "content": reask},
            ]
            reply2 = await self._ask(retry, turn, attempt=1)
            text2, self._cut = reply2.text or "", reply2.truncated
            try:
                turn_ = self._parse(text2)
            except ParseError as second:
                instructions = isinstance(second, UnusableInstructions)
                self._unusable = "unusable_instructions" if instructions else "unparseable"
                why = "unusable instructions twice" if instructions else "unparseable twice"
                self.trace.fallback(turn, f"{why}: {second}", raw=text2)
                return None
            self.trace.reask(turn, str(first), raw=text)  # the conductor's turn after all
            return turn_

    def _parse(self, text: str) -> Turn:
        """The reply as a Turn; ParseError also for instructions the conductor did not write."""
        turn_ = parse_turn(text, self.names, self.artifact_names)
        if turn_.action == "call_expert":
            default = self.spec.role(turn_.expert).default_instructions
            why = unusable_instructions(turn_.instructions, default, self.prompts.placeholder)
            if why:
                raise UnusableInstructions(
                    f'"instructions" {why}: write what {turn_.expert} must do for this document', raw=text
                )
        return turn_

    async def _ask(self, messages: list[Message], turn: int, attempt: int) -> Reply:
        """The conductor's reply. A prompt the server says is too long for its context has its
        oldest memory condensed (counted in provenance) and goes again; one that cannot be
        shortened more ends the run with the server's one-line error."""
        in_memory = len(self.memory.messages())
        for _ in range(3):
            try:
                return await self.caller.reply(
                    "conductor",
                    messages,
                    self.conductor_sampling,
                    turn=turn,
                    attempt=attempt,
                    json_schema=self.schema,
                )
            except ContextLengthError as exc:
                if not (exc.limit and exc.prompt_tokens):
                    raise
                room = exc.limit - self.conductor_sampling.max_tokens
                if not self.memory.shrink(0.9 * room / exc.prompt_tokens):
                    raise
                await self.memory.fit(self.summarize)
                messages = self.memory.messages() + messages[in_memory:]
                in_memory = len(self.memory.messages())
        raise ContextLengthError("the conductor's prompt still does not fit the context after condensing its memory")

    async def call_expert(
        self,
        ws: Workspace,
        turn_: Turn,
        *,
        turn: int,
        source: str = "conductor",
        bookkeeping: bool = False,
        attempt: int = 0,
    ) -> str:
        """Run one expert with only the shared artifacts; its output updates its artifact."""
        role = self.spec.role(turn_.expert)
        shared = {name: ws.artifacts[name] for name in turn_.share if ws.artifacts.get(name)}
        instructions = turn_.instructions or role.default_instructions
        messages: list[Message] = [
            {"role": "system", "content": self.prompts.render(role.template, **self.spec.role_vars)},
            {
                "role": "user",
                "content": self.prompts.render(
                    "experts/_request", instructions=instructions, shared=shared, notes=turn_.context
                ),
            },
        ]
        reply = await self.caller.reply(
            turn_.expert,
            messages,
            self.expert_sampling,
            turn=turn,
            attempt=attempt,
            bookkeeping=bookkeeping,
        )
        output = clean_output(reply.text or "")
        ws.calls[turn_.expert] += 1
        self.agency.expert_calls += 1
        self.agency.conductor_instructions += source == "conductor"
        ws.put(role.output, output, truncated=reply.truncated)
        self.trace.experts.append(turn_.expert)
        self.trace.turns.append(
            {
                "turn": turn,
                "action": "call_expert",
                "expert": turn_.expert,
                "source": source,
                "instructions": excerpt(instructions, 300),
                "share": list(turn_.share),
                "output_words": len(output.split()),
            }
        )
        return output

    def _observation(self, ws: Workspace, expert: str, output: str, note: str, turn: int) -> str:
        return self.prompts.render(
            "conductor/observation",
            expert=expert,
            note=note,
            output=excerpt(output, self.spec.observation_chars) if output else "",
            turns_left=self.max_turns - turn,
            artifacts=[a for a in self.artifact_names if ws.artifacts.get(a)],
        )
