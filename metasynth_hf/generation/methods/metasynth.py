"""The MetaSynth run loop for one document: seeds + instance table -> conductor loop ->
final text -> summary and topic label for the table -> record with provenance."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from metasynth_hf.corpus.records import InstanceEntry, Record, dump_provenance
from metasynth_hf.generation.conductor import (
    ConductorLoop,
    LoopSpec,
    NoFinalError,
    Outcome,
    Workspace,
)
from metasynth_hf.generation.context import Producer, RunContext, RunPlan
from metasynth_hf.generation.describe import PAPER, conditioning_text, scaffold_text
from metasynth_hf.generation.instance_table import render_table
from metasynth_hf.generation.memory import ConductorMemory
from metasynth_hf.generation.text import (
    cap_reply,
    clean_output,
    excerpt,
    is_degenerate,
    parse_keywords,
    parse_label,
)
from metasynth_hf.generation.turns import Turn, examples
from metasynth_hf.seeds.types import SeedSet, normalise_keyword

logger = logging.getLogger(__name__)

#: The fixed expert order used when the conductor's replies are unusable (then FINAL).
FIXED_ORDER = ("seed_keywords", "domain_expert", "content_analyst", "domain_expert")
MIN_FINAL_WORDS = 40


class MetaSynthProducer(Producer):
    """Conductor + experts + memory + instance table, one document per `produce` call."""

    def __init__(self, plan: RunPlan):
        self.plan = plan
        cfg = plan.config
        self.experts = {name: plan.prompts.role("experts", name) for name in cfg.expert_set}
        described = plan.prompts.artifacts("conductor")  # prompts/conductor/artifacts.yaml
        other = described.get("other", "latest {expert} answer")
        self.artifacts = {k: described.get(k, other.format(expert=k)) for k in ("seeds", "instance_table")}
        for role in self.experts.values():
            self.artifacts.setdefault(role.output, described.get(role.output, other.format(expert=role.name)))
        order = [e for e in FIXED_ORDER if e in self.experts]
        self.fixed_order = tuple(order + [r for r in cfg.required if r not in order])
        # each required expert once, in the fixed order's order
        self.required = tuple(e for e in dict.fromkeys(self.fixed_order) if e in cfg.required)
        self.roles = ("conductor", *self.experts)

    @classmethod
    def describe(cls, facts: Mapping[str, Any]) -> str:
        return (
            f"This corpus was generated with metasynth-hf, an implementation of {PAPER}, method "
            f"`metasynth`: for each {facts['domain']} document a conductor LLM chose, turn by turn, which "
            f"expert to call ({', '.join(facts.get('experts', [])) or '–'}), wrote the expert's instructions "
            "and shared only the material it picked with it; experts saw nothing else. "
            + scaffold_text(facts)
            + "\n\n"
            + conditioning_text(facts)
        )

    # -- one document ---------------------------------------------------------------------
    async def produce(
        self, ctx: RunContext, index: int, seeds: SeedSet, visible: Sequence[InstanceEntry]
    ) -> tuple[Record, InstanceEntry]:
        cfg = ctx.config
        caller, trace = ctx.caller(index)
        query = " ".join([*seeds.keywords, *(d.topic or "" for d in seeds.documents)])
        shown = ctx.table.relevant(visible, query)
        persona = ctx.persona(index)
        ws = Workspace()
        ws.put("seeds", ctx.prompts.render("conductor/seeds", seeds=seeds))
        if shown:
            ws.put("instance_table", render_table(ctx.prompts, shown))
        loop = self._loop(ctx, index, seeds, shown, len(visible), persona, caller, trace)
        outcome = await loop.run(ws)
        if outcome.status == "max_turns" and cfg.stop.strict_final:
            raise NoFinalError(
                f"document {cfg.doc_id(index)}: the conductor gave no FINAL within "
                f"stop.max_turns={cfg.stop.max_turns}. Finished documents are kept in "
                f"{cfg.output_dir}; raise stop.max_turns, use a stronger conductor model, or set "
                "stop.strict_final=false to keep the best draft, then rerun to resume"
            )
        text, truncated, source = await self._assemble(loop, ws, outcome)
        category, topic, summary = await self._label(loop, text, outcome.turns + 1, seeds)
        # how the loop ended stays in agency.final_by; a cut text is what a reader must know first
        status = "empty" if not text else "truncated" if truncated else outcome.status
        entry = InstanceEntry(
            index=index,
            id=cfg.doc_id(index),
            topic=topic,
            category=category,
            summary=summary,
            seed_ids=tuple(seeds.ids),
            keywords_added=self._added_keywords(ws, seeds),
            text=text,
        )
        prov = {
            **ctx.base_provenance(index, visible),
            **trace.provenance(),
            "status": status,
            "final_source": source,
            "loop_turns": outcome.turns,
            "agency": loop.agency.to_dict(),
            "conditioned_on": {"visible": len(visible), "shown": [e.id for e in shown]},
            "seeds": {"keywords": list(seeds.keywords), "documents": [d.id for d in seeds.documents]},
            "persona": persona,
            "instance": entry.instance_fields(),
            "memory": {"condensed_turns": loop.memory.condensed_turns, "summary_calls": loop.memory.summary_calls},
        }
        if loop.memory.context_fits:  # the server's context was too short for the memory budget
            prov["memory"]["context_fits"] = loop.memory.context_fits
        record = Record(
            id=entry.id,
            text=text,
            domain=ctx.domain.name,
            method="metasynth",
            seed=list(seeds.ids),
            topic=topic,
            num_tokens=ctx.count_tokens(text),
            provenance=dump_provenance(prov),
        )
        return record, entry

    def _loop(self, ctx: RunContext, index, seeds, shown, num_visible, persona, caller, trace) -> ConductorLoop:
        cfg = ctx.config
        role_vars = {
            "domain": ctx.domain.name,
            "domain_description": ctx.domain.description,
            "persona": persona,
            "target_words": cfg.target_words,
        }
        experts = list(self.experts.values())
        call, final = examples(list(self.experts), list(self.artifacts), ctx.prompts.placeholder)
        system = ctx.prompts.render(
            "conductor/system",
            experts=experts,
            artifacts=self.artifacts,
            json_example_call=call,
            json_example_final=final,
            max_turns=cfg.stop.max_turns,
            **role_vars,
        )
        seed_docs = [{"id": d.id, "topic": d.topic, "excerpt": excerpt(d.text, 600)} for d in seeds.documents]
        task = ctx.prompts.render(
            "conductor/task",
            doc_id=cfg.doc_id(index),
            seeds=seeds,
            seed_docs=seed_docs,
            instance_table=render_table(ctx.prompts, shown),
            num_earlier=num_visible,
            **role_vars,
        )
        spec = LoopSpec(
            self.experts,
            self.artifacts,
            system,
            task,
            role_vars,
            fixed_order=self.fixed_order,
            required=self.required,
            final_artifact="draft",
            final_writer="domain_expert",
        )
        memory = ConductorMemory(
            system,
            task,
            cfg.memory.max_tokens,
            prompts=ctx.prompts,
        )
        summarize = None
        if cfg.memory.summarize_with == "summarizer" and "summarizer" in self.experts:

            async def summarize(previous: str, turns: str) -> str:
                prompt = ctx.prompts.render("conductor/memory_summary", previous=previous, turns=turns)
                messages = [{"role": "user", "content": prompt}]
                text = await caller(
                    "summarizer",
                    messages,
                    cfg.expert_sampling,
                    turn=len(trace.turns),
                    attempt=9,
                    bookkeeping=True,
                    max_tokens=200,
                )
                return "" if is_degenerate(text) else clean_output(text)

        return ConductorLoop(
            spec,
            ctx.prompts,
            caller,
            trace,
            memory,
            conductor_sampling=cfg.conductor_sampling,
            expert_sampling=cfg.expert_sampling,
            max_turns=cfg.stop.max_turns,
            summarize=summarize,
        )

    async def _assemble(self, loop: ConductorLoop, ws: Workspace, outcome: Outcome) -> tuple[str, bool, str]:
        """The final text (the conductor's own document if usable, else the latest draft that was
        not cut mid-sentence, else the latest), whether it was (status `truncated`), and its source."""
        max_words = self.plan.config.stop.max_words
        own = clean_output(outcome.document)
        if len(own.split()) >= MIN_FINAL_WORDS and not is_degenerate(own):
            return (*cap_reply(own, max_words, outcome.document_truncated), "conductor")
        drafts = [d for d in ws.versions.get("draft", []) if d.strip()]
        if not drafts:
            rescue = loop.fixed_turn("domain_expert")
            await loop.call_expert(ws, rescue, turn=outcome.turns + 1, source="rescue", bookkeeping=True)
            drafts = [d for d in ws.versions.get("draft", []) if d.strip()]
        good = [(*cap_reply(d, max_words, d in ws.truncated), "draft") for d in drafts if not is_degenerate(d)]
        if good:  # the latest draft that ends at a sentence; a cut one only when every draft was cut
            return next((draft for draft in reversed(good) if not draft[1]), good[-1])
        if drafts:
            longest = max(drafts, key=len)
            return (*cap_reply(longest, max_words, longest in ws.truncated), "degenerate_draft")
        return "", False, "none"

    async def _label(self, loop: ConductorLoop, text: str, turn: int, seeds: SeedSet) -> tuple[str, str, str]:
        """Summary and (category, topic) of the final text, for the instance table."""
        side = Workspace(artifacts={"draft": text})

        async def run(expert: str) -> str | None:
            if expert not in self.experts or not text:
                return None
            role = self.experts[expert]
            fixed = Turn(
                "call_expert",
                expert=expert,
                instructions=role.default_instructions,
                share=("draft",),
            )
            return await loop.call_expert(side, fixed, turn=turn, source="bookkeeping", bookkeeping=True)

        # Sequential on purpose: the trace (provenance) must list calls in a fixed order.
        summary = await run("summarizer")
        label = await run("topic_labeler")
        fallback_topic = seeds.documents[0].topic if seeds.documents else ", ".join(seeds.keywords[:2])
        category, topic = parse_label(label) if label else ("general", "")
        summary = summary if summary and not is_degenerate(summary) else excerpt(text, 300)
        return category, topic or fallback_topic or "", excerpt(summary, 600)

    def _added_keywords(self, ws: Workspace, seeds: SeedSet) -> tuple[str, ...]:
        known = {normalise_keyword(k) for k in seeds.keywords}
        out: list[str] = []
        for answer in ws.versions.get("keywords", []):
            for keyword in parse_keywords(answer):
                if normalise_keyword(keyword) not in known and keyword not in out:
                    out.append(keyword)
        return tuple(out[:8])
