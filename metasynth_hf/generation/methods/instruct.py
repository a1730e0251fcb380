"""MetaSynth-Instruct: a second conductor loop that turns synthetic documents into evolved
instruction/response pairs.

The conductor reads one source document and directs the experts (document transformation,
role suggestion, complexity, question editing); it picks each evolution step itself, and the
instruction must evolve `instruct.rounds` times before FINAL is accepted. The scaffold then has
the Response expert answer it. Records carry `instruction`, `response` and a `text`
rendering (prompts/instruct/render.jinja2) for pre-training with loss on all tokens.

Source documents come from `instruct.source`: the output dir of a `metasynth generate` run
(its shard files, in index order), or parquet/jsonl files / a Hub id with a `text` column.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from metasynth_hf.corpus.records import InstanceEntry, Record, dump_provenance
from metasynth_hf.errors import ConfigError
from metasynth_hf.generation.conductor import ConductorLoop, LoopSpec, NoFinalError, Workspace
from metasynth_hf.generation.context import RunContext, RunPlan, SeedingProducer
from metasynth_hf.generation.describe import PAPER, scaffold_text, table_size
from metasynth_hf.generation.memory import ConductorMemory
from metasynth_hf.generation.text import excerpt, is_degenerate
from metasynth_hf.generation.turns import examples
from metasynth_hf.seeds.types import FinishedDoc, SeedDocument, SeedSet

logger = logging.getLogger(__name__)

RESPONDER = "responder"


def load_sources(source: str) -> list[SeedDocument]:
    """Source documents: a generate output dir (in index order, with topics) or any corpus."""
    from metasynth_hf.corpus.load import load_corpus

    corpus = load_corpus(source, column="text", what="instruct.source")
    topics = corpus["topic"] if "topic" in corpus.column_names else [None] * len(corpus)
    ids = corpus["id"] if "id" in corpus.column_names else [f"row-{i}" for i in range(len(corpus))]
    return [
        SeedDocument(str(i), t.strip(), topic)
        for i, t, topic in zip(ids, corpus["text"], topics, strict=True)
        if t and t.strip()
    ]


class InstructProducer(SeedingProducer):
    """One evolved instruction/response pair per source document."""

    def __init__(self, plan: RunPlan):
        self.plan = plan
        icfg = plan.config.instruct
        if not icfg.source:
            raise ConfigError(
                "instruct.source: method instruct builds on synthetic documents; set it to the "
                "output dir of a metasynth run (or parquet/jsonl files with a text column)"
            )
        self.sources = load_sources(icfg.source)
        if not self.sources:
            raise ConfigError(f"instruct.source: {icfg.source} holds no documents with text")
        self.experts = {n: plan.prompts.role("instruct/experts", n) for n in icfg.experts}
        self.responder = plan.prompts.role("instruct/experts", RESPONDER)
        outputs = {r.output for r in self.experts.values()}
        described = plan.prompts.artifacts("instruct")  # prompts/instruct/artifacts.yaml
        self.artifacts = {k: v for k, v in described.items() if k == "document" or k in outputs}
        if "instruction" not in outputs:
            raise ConfigError("instruct.experts: must include question_editor (writes the instruction)")
        self.fixed_order = self._fixed_order(icfg.rounds)
        # the conductor picks the evolution steps; FINAL waits for the instruction's rounds
        first = ("doc_transform",) if "doc_transform" in self.experts else ()
        self.required = first + ("question_editor",) * (icfg.rounds + 1)
        self.roles = ("conductor", *self.experts, RESPONDER)

    @classmethod
    def describe(cls, facts: Mapping[str, Any]) -> str:
        return (
            f"This corpus was generated with metasynth-hf, an implementation of {PAPER}, method "
            "`instruct` (MetaSynth-Instruct): for each source document a conductor LLM evolved an "
            "instruction through expert calls it chose and instructed (document transformation, "
            "question editing, role suggestion, complexity), then a responder expert answered the "
            "instruction with fixed instructions. " + scaffold_text(facts) + " The conductor was shown the "
            f"summaries of up to {table_size(facts)[0]} earlier instructions."
        )

    def _fixed_order(self, rounds: int) -> tuple[str, ...]:
        evolvers = [e for e in ("role_suggester", "complexity") if e in self.experts]
        order: list[str] = [e for e in ("doc_transform", "question_editor") if e in self.experts]
        for r in range(rounds):
            order += ([evolvers[r % len(evolvers)]] if evolvers else []) + ["question_editor"]
        return tuple(order)

    # -- the engine's seeder interface: source document i is document i's seed ----------------
    def limit(self, positions: int | None) -> int:
        k, n = self.plan.config.shard_index, self.plan.config.num_shards
        available = max(0, math.ceil((len(self.sources) - k) / n))
        return available if positions is None else min(positions, available)

    def seeds_for(self, doc_index: int, history: Sequence[FinishedDoc]) -> SeedSet:
        return SeedSet(keywords=(), documents=(self.sources[doc_index],))

    async def produce(
        self, ctx: RunContext, index: int, seeds: SeedSet, visible: Sequence[InstanceEntry]
    ) -> tuple[Record, InstanceEntry]:
        cfg = ctx.config
        source = seeds.documents[0]
        caller, trace = ctx.caller(index)
        shown = ctx.table.relevant(visible, source.text[:500])
        loop = self._loop(ctx, index, source, shown, caller, trace)
        ws = Workspace()
        ws.put("document", excerpt(source.text, cfg.instruct.document_chars))
        outcome = await loop.run(ws)
        if outcome.status == "max_turns" and cfg.stop.strict_final:
            raise NoFinalError(
                f"instruction {cfg.doc_id(index)}: no FINAL within instruct.max_turns="
                f"{cfg.instruct.max_turns}; raise it or set stop.strict_final=false, then rerun"
            )
        turn = outcome.turns + 1
        if not ws.artifacts.get("instruction"):
            await loop.call_expert(
                ws, loop.fixed_turn("question_editor"), turn=turn, source="rescue", bookkeeping=True
            )
        instruction = ws.artifacts.get("instruction", "")
        response = ""
        answer_ws = Workspace(
            artifacts={
                "instruction": instruction,
                "material": ws.artifacts.get("material") or ws.artifacts["document"],
            }
        )
        for attempt in range(2):
            if not instruction:
                break
            response = await loop.call_expert(
                answer_ws,
                loop.fixed_turn(RESPONDER),
                turn=turn,
                source="bookkeeping",
                bookkeeping=True,
                attempt=attempt,
            )
            if not is_degenerate(response):
                break
            trace.fallback(turn, "empty or degenerate response; asked again", raw=response, action="retry")
        text = ctx.prompts.render("instruct/render", instruction=instruction, response=response)
        truncated = instruction in ws.truncated or response in answer_ws.truncated
        entry = InstanceEntry(
            index=index,
            id=cfg.doc_id(index),
            topic=source.topic or "",
            category="instruction",
            summary=excerpt(instruction, 300),
            seed_ids=(source.id,),
            text=text,
        )
        prov = {
            **ctx.base_provenance(index, visible),
            **trace.provenance(),
            "status": "empty" if not (instruction and response) else "truncated" if truncated else outcome.status,
            "loop_turns": outcome.turns,
            "agency": loop.agency.to_dict(),
            "evolutions": max(0, ws.calls["question_editor"] - 1),
            # every version of the instruction, first to last: how it was evolved
            "evolution": [excerpt(v, 400) for v in ws.versions.get("instruction", []) if v.strip()],
            "source_id": source.id,
            "conditioned_on": {"visible": len(visible), "shown": [e.id for e in shown]},
            "instance": entry.instance_fields(),
        }
        record = Record(
            id=entry.id,
            text=text,
            domain=ctx.domain.name,
            method="instruct",
            seed=[source.id],
            topic=source.topic or "",
            num_tokens=ctx.count_tokens(text),
            provenance=dump_provenance(prov),
            instruction=instruction,
            response=response,
        )
        return record, entry

    def _loop(self, ctx: RunContext, index, source, shown, caller, trace) -> ConductorLoop:
        cfg = ctx.config
        role_vars = {
            "domain": ctx.domain.name,
            "domain_description": ctx.domain.description,
            "persona": ctx.persona(index),
            "target_words": cfg.target_words,
        }
        call, final = examples(list(self.experts), list(self.artifacts), ctx.prompts.placeholder)
        system = ctx.prompts.render(
            "instruct/system",
            experts=list(self.experts.values()),
            artifacts=self.artifacts,
            rounds=cfg.instruct.rounds,
            max_turns=cfg.instruct.max_turns,
            json_example_call=call,
            json_example_final=final,
            **role_vars,
        )
        task = ctx.prompts.render(
            "instruct/task",
            doc_id=source.id,
            topic=source.topic,
            document=excerpt(source.text, cfg.instruct.document_chars),
            earlier=[e.summary for e in shown],
            rounds=cfg.instruct.rounds,
        )
        spec = LoopSpec(
            self.experts,
            self.artifacts,
            system,
            task,
            role_vars,
            fixed_order=self.fixed_order,
            required=self.required,
            final_artifact="instruction",
            final_writer="question_editor",
            extra_experts={RESPONDER: self.responder},
        )
        memory = ConductorMemory(
            system,
            task,
            cfg.memory.max_tokens,
            prompts=ctx.prompts,
        )
        return ConductorLoop(
            spec,
            ctx.prompts,
            caller,
            trace,
            memory,
            conductor_sampling=cfg.conductor_sampling,
            expert_sampling=cfg.expert_sampling,
            max_turns=cfg.instruct.max_turns,
        )
