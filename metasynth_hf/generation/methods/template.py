"""The three template baselines the paper compares MetaSynth with.

* `template`: a fixed prompt with placeholders (domain, keywords, length).
* `template_prior`: the same plus the latest prior generations the document may see
  (index <= i - lanes, the same window as MetaSynth), asking for something different.
* `template_icl`: the same plus in-context exemplars of real domain documents, which vary
  with the topic-aware seeds.

One call per document on the `writer` role (the experts' model), the same record schema and
provenance as MetaSynth, so corpora are directly comparable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from metasynth_hf.corpus.records import InstanceEntry, Record, dump_provenance
from metasynth_hf.generation.context import Producer, RunContext, RunPlan
from metasynth_hf.generation.describe import PAPER
from metasynth_hf.generation.text import cap_reply, clean_output, excerpt, is_degenerate
from metasynth_hf.seeds.types import SeedSet

logger = logging.getLogger(__name__)

WRITER_ROLE = "writer"


class TemplateProducer(Producer):
    """One templated call per document (`template`, `template_prior`, `template_icl`)."""

    def __init__(self, plan: RunPlan):
        self.plan = plan
        self.method = plan.config.method
        self.template = f"baselines/{self.method}"
        self.roles = (WRITER_ROLE,)
        # The plain template on keyword seeds reads no history: neither earlier documents nor
        # seeds that depend on them (its documents add no keywords to expand), so the engine
        # may start each document as soon as a lane is free (engine._run_window).
        self.history_free = self.method == "template" and plan.config.seeds.kind == "keyword"
        plan.prompts.render(self.template, **self._variables(SeedSet(keywords=("x",)), ()))

    @classmethod
    def describe(cls, facts: Mapping[str, Any]) -> str:
        method = facts["method"]
        baseline = {
            "template": "a fixed prompt template filled with the seed keywords, the domain and a length",
            "template_prior": (
                "a fixed prompt template filled with the seed keywords plus excerpts of the latest earlier "
                f"documents visible to it ({facts.get('prior_docs', '?')} at most, `baseline.prior_docs`), "
                "asking for something different"
            ),
            "template_icl": (
                "a fixed prompt template plus excerpts of real domain documents as in-context exemplars "
                f"({facts.get('exemplars', '?')} at most, `baseline.exemplars`, from the topic-aware seeds)"
            ),
        }[method]
        return (
            f"This corpus is a template baseline of metasynth-hf (an implementation of {PAPER}), method "
            f"`{method}`: one model call per document with {baseline}. No conductor, no experts and no "
            "instance table were involved; it is meant for comparison with MetaSynth corpora."
        )

    def _variables(self, seeds: SeedSet, visible: Sequence[InstanceEntry]) -> dict:
        cfg = self.plan.config
        chars = cfg.baseline.excerpt_chars
        prior = [excerpt(e.text, chars) for e in visible[-cfg.baseline.prior_docs :] if e.text]
        exemplars = [excerpt(d.text, chars) for d in seeds.documents[: cfg.baseline.exemplars]]
        return {
            "domain": self.plan.domain.name,
            "domain_description": self.plan.domain.description,
            "keywords": list(seeds.keywords),
            "target_words": cfg.target_words,
            "prior": prior if self.method == "template_prior" else [],
            "exemplars": exemplars if self.method == "template_icl" else [],
        }

    async def produce(
        self, ctx: RunContext, index: int, seeds: SeedSet, visible: Sequence[InstanceEntry]
    ) -> tuple[Record, InstanceEntry]:
        cfg = ctx.config
        caller, trace = ctx.caller(index)
        variables = self._variables(seeds, visible)
        messages = [{"role": "user", "content": ctx.prompts.render(self.template, **variables)}]
        text, truncated = "", False
        for attempt in range(2):  # a weak model may answer nothing or loop: one more draw
            reply = await caller.reply(
                WRITER_ROLE, messages, cfg.expert_sampling, turn=1, attempt=attempt, bookkeeping=True
            )
            raw = reply.text or ""
            text, truncated = cap_reply(clean_output(raw), cfg.stop.max_words, reply.truncated)
            if not is_degenerate(text):
                break
            trace.fallback(1, "empty or degenerate output; asked again", raw=raw, action="retry")
        topic = (seeds.documents[0].topic or "") if seeds.documents else ""
        entry = InstanceEntry(
            index=index,
            id=cfg.doc_id(index),
            topic=topic,
            category="",
            summary=excerpt(text, 300),
            seed_ids=tuple(seeds.ids),
            text=text,
        )
        prov = {
            **ctx.base_provenance(index, visible),
            **trace.provenance(),
            "status": "empty" if not text else "truncated" if truncated else "final",
            "template": self.template,
            "conditioned_on": {"visible": len(visible), "prior_shown": len(variables["prior"])},
            "seeds": {
                "keywords": list(seeds.keywords),
                "documents": [d.id for d in seeds.documents],
            },
            "instance": entry.instance_fields(),
        }
        record = Record(
            id=entry.id,
            text=text,
            domain=ctx.domain.name,
            method=self.method,
            seed=list(seeds.ids),
            topic=topic,
            num_tokens=ctx.count_tokens(text),
            provenance=dump_provenance(prov),
        )
        return record, entry
