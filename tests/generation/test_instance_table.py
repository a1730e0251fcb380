"""Instance table: publication order, retrieval of the relevant part, rendering."""

from __future__ import annotations

import pytest

from metasynth_hf.config import InstanceTableConfig
from metasynth_hf.corpus.records import InstanceEntry
from metasynth_hf.generation.instance_table import HashingEmbedder, InstanceTable, render_table
from metasynth_hf.generation.prompts import PromptSet

TOPICS = [
    ("Banking", "deposit insurance", "How deposit insurance protects savers in bank runs."),
    ("Markets", "bond yields", "Why long bond yields rise with inflation expectations."),
    ("Risk", "credit default swaps", "Pricing credit default swaps on corporate debt."),
    ("Banking", "mortgage lending", "Underwriting standards of mortgage lending."),
    ("Markets", "equity options", "Hedging equity portfolios with put options."),
    ("Risk", "operational risk", "Operational risk capital under Basel rules."),
    ("Markets", "currency futures", "Currency futures for exporters hedging exchange rates."),
]


def entries() -> list[InstanceEntry]:
    return [
        InstanceEntry(i, f"doc-{i}", topic, category, summary) for i, (category, topic, summary) in enumerate(TOPICS)
    ]


def table(max_entries=3, recent=1) -> InstanceTable:
    config = InstanceTableConfig(max_entries=max_entries, recent=recent, embedder="hashing")
    return InstanceTable(config)


def test_all_entries_when_they_fit():
    t = table(max_entries=10)
    assert t.relevant(entries(), "anything") == entries()


def test_recent_plus_most_similar_when_the_table_outgrows_context():
    t = table(max_entries=3, recent=1)
    picked = t.relevant(entries(), "hedging exchange rates with bond yields and inflation")
    ids = [e.id for e in picked]
    assert ids[-1] == "doc-6"  # the most recent entry is always there
    assert "doc-1" in ids  # bond yields / inflation: most similar to the query
    assert len(ids) == 3
    assert t.relevant(entries(), "hedging exchange rates with bond yields and inflation") == picked


def test_entries_must_be_published_in_order():
    t = table()
    t.add(entries()[1])
    with pytest.raises(ValueError, match="index order"):
        t.add(entries()[0])


def test_render_groups_by_category():
    text = render_table(PromptSet(), entries())
    assert text.index("Category: Banking") < text.index("Category: Markets")
    banking = text.split("Category: Markets")[0]
    assert "deposit insurance" in banking and "mortgage lending" in banking


def test_hashing_embedder_is_normalised_and_deterministic():
    vectors = HashingEmbedder().encode(["bond yields rise", "bond yields rise", ""])
    assert abs(float(vectors[0] @ vectors[0]) - 1) < 1e-5
    assert (vectors[0] == vectors[1]).all() and not vectors[2].any()


@pytest.mark.slow
def test_default_embedder_retrieves_by_meaning():
    """The default (all-MiniLM-L6-v2, offline) finds a paraphrase with no shared words."""
    t = InstanceTable(InstanceTableConfig(max_entries=2, recent=1))
    picked = t.relevant(entries(), "protection a bondholder buys in case the issuing company goes bankrupt")
    assert [e.id for e in picked] == ["doc-2", "doc-6"]  # best match + the most recent entry
