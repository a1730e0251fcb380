"""Topic-aware seeds on a small real corpus (stdlib docstrings), with the real MiniLM model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from metasynth_hf.errors import ConfigError
from metasynth_hf.seeds import Seeder, TopicAwareSeeder
from tests.seeds.stdlib_corpus import stdlib_paragraphs

pytestmark = pytest.mark.slow  # embeds a real corpus with MiniLM (about 30-60 s on 2 cores)

M = 3
BASE = {
    "num_topics": 8,
    "refresh_every": M,
    "k_min": 2,
    "k_max": 6,
    "threshold": 0.45,
    "min_chars": 100,
    "id_column": "id",
}


@dataclass(frozen=True)
class Done:
    index: int
    topic: str | None
    seed_ids: tuple[str, ...]


class NoEmbedding:
    """Fails the test if anything gets embedded (errors must come before the model)."""

    model_id = "never"

    def encode(self, texts):
        raise AssertionError("embedded texts although the config was invalid")


@pytest.fixture(scope="module")
def rows():
    return stdlib_paragraphs()


@pytest.fixture(scope="module")
def corpus_dir(rows, tmp_path_factory):
    import datasets

    folder = tmp_path_factory.mktemp("corpus")
    with open(folder / "docs.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    datasets.Dataset.from_list(rows).to_parquet(str(folder / "docs.parquet"))
    return folder


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("embeddings")


@pytest.fixture(scope="module")
def seeder(corpus_dir, cache_dir):
    return TopicAwareSeeder(corpus_dir / "docs.jsonl", seed=5, cache_dir=cache_dir, **BASE)


def simulate(seeder, n, topic=lambda i, seeds: None):
    """A sequential run: each document sees every earlier one."""
    history, out = [], []
    for i in range(n):
        seeds = seeder.seeds_for(i, history)
        out.append(seeds)
        history.append(Done(i, topic(i, seeds), seeds.ids))
    return out


def test_seeds_are_real_documents_with_topics(seeder, rows):
    assert isinstance(seeder, Seeder)
    by_id = {row["id"]: row["text"] for row in rows}
    seeds = seeder.seeds_for(0, [])
    assert seeds.ids == tuple(d.id for d in seeds.documents)
    assert all(by_id[d.id] == d.text and d.topic in seeder.topic_labels for d in seeds.documents)
    joined = " ".join(d.text.lower() for d in seeds.documents)
    assert seeds.keywords and all(kw in joined for kw in seeds.keywords)


def test_topic_labels_are_readable_and_follow_the_corpus(seeder, rows):
    labels = seeder.topic_labels
    assert len(labels) == 8 and len(set(labels)) == 8
    assert all(len(label.split(", ")) == 3 for label in labels)
    group = {row["id"]: row["group"] for row in rows}
    purity = sum(
        Counter(group[seeder.ids[r]] for r, t in enumerate(seeder.topic_of) if t == label).most_common(1)[0][1]
        for label in labels
    ) / len(seeder.ids)
    assert purity > 0.45, purity  # 8 equal groups: chance is about 0.2


@pytest.mark.parametrize("run_seed", [5, 6, 7])
def test_new_seeds_every_m_documents_from_topics_not_in_the_last_m(run_seed, corpus_dir, cache_dir):
    seeder = TopicAwareSeeder(corpus_dir / "docs.parquet", seed=run_seed, cache_dir=cache_dir, **BASE)
    out = simulate(seeder, 12 * M)
    anchors = []
    for block in range(12):
        first = out[block * M]
        assert all(s.documents == first.documents for s in out[block * M : (block + 1) * M])
        anchors.append(first.documents[0].topic)
        if block:
            previous = {d.topic for s in out[(block - 1) * M : block * M] for d in s.documents}
            assert first.documents[0].topic not in previous
    assert len(set(anchors)) >= 5
    used = [i for s in out[::M] for i in s.ids]
    assert len(used) == len(set(used))  # new seed documents every block, none reused


def test_excluded_topics_come_from_seed_ids_and_known_topic_labels(seeder):
    labels = seeder.topic_labels
    rows_of = {t: [r for r, x in enumerate(seeder.topic_of) if x == t] for t in labels}
    history = [
        Done(0, labels[0], ("not-a-corpus-id",)),
        Done(1, "a free-text topic from the LLM", (seeder.ids[rows_of[labels[1]][0]],)),
        Done(2, None, ()),
        Done(3, labels[5], ()),  # in the document's own block: ignored
    ]
    assert seeder.excluded_topics(3, history) == tuple(sorted(labels[:2]))
    assert seeder.excluded_topics(4, history) == tuple(sorted(labels[:2]))
    for block in range(1, 25):  # many draws: a rule that ignored the history would be caught
        shifted = [Done(d.index + (block - 1) * M, d.topic, d.seed_ids) for d in history]
        anchor = seeder.seeds_for(block * M, shifted).documents[0]
        assert anchor.topic not in labels[:2]
    assert seeder.excluded_topics(2, history) == ()
    # only the last M documents before the block count
    late = [Done(i, labels[i], ()) for i in range(6)]
    assert seeder.excluded_topics(6, late) == tuple(sorted(labels[3:6]))


def test_reuse_window_bounds_which_seed_documents_count_as_used(corpus_dir, cache_dir):
    seeder = TopicAwareSeeder(corpus_dir / "docs.parquet", seed=5, cache_dir=cache_dir, **{**BASE, "reuse_window": 2})
    ids = seeder.ids
    history = [Done(i, None, (ids[2 * i], ids[2 * i + 1], "elsewhere-1")) for i in range(6)]
    assert seeder.used_rows(6, history[::-1]) == {8, 9, 10, 11}  # docs 4 and 5, any order
    assert seeder.used_rows(4, history) == {2, 3, 4, 5}  # docs 1 and 2: before block 1
    assert seeder.used_rows(2, history) == set()
    everything = TopicAwareSeeder(
        corpus_dir / "docs.parquet", seed=5, cache_dir=cache_dir, **{**BASE, "reuse_window": None}
    )
    assert everything.used_rows(6, history) == set(range(12))


def neighbourhoods(seeder, blocks=24):
    """(anchor row, neighbour rows) of many blocks, each drawn with an empty history."""
    row = {doc_id: r for r, doc_id in enumerate(seeder.ids)}
    out = []
    for block in range(blocks):
        ids = seeder.seeds_for(block * M, []).ids
        out.append((row[ids[0]], [row[i] for i in ids[1:]]))
    return out


def test_k_adapts_to_keep_neighbourhoods_tight(corpus_dir, cache_dir):
    sizes = {}
    for threshold in (1.0, 0.45, -1.0):
        seeder = TopicAwareSeeder(
            corpus_dir / "docs.parquet",
            seed=5,
            cache_dir=cache_dir,
            **{**BASE, "threshold": threshold},
        )
        emb = seeder.embeddings
        sizes[threshold] = []
        for anchor, chosen in neighbourhoods(seeder):
            sims = emb @ emb[anchor]
            order = [int(r) for r in np.argsort(-sims, kind="stable") if r != anchor]
            assert chosen == order[: len(chosen)]  # nearest first, no gaps
            k = 1 + len(chosen)
            assert BASE["k_min"] <= k <= BASE["k_max"]
            assert all(sims[r] >= threshold for r in chosen[BASE["k_min"] - 1 :])
            if k < BASE["k_max"]:
                assert sims[order[len(chosen)]] < threshold
            sizes[threshold].append(k)
    assert set(sizes[1.0]) == {BASE["k_min"]}
    assert set(sizes[-1.0]) == {BASE["k_max"]}
    assert len(set(sizes[0.45])) >= 2, sizes[0.45]


def test_relative_and_same_topic_rules(corpus_dir, cache_dir):
    for rule, threshold in (("relative", 0.9), ("same_topic", 0.3)):
        seeder = TopicAwareSeeder(
            corpus_dir / "docs.parquet",
            seed=5,
            cache_dir=cache_dir,
            **{**BASE, "rule": rule, "threshold": threshold, "k_min": 1},
        )
        emb = seeder.embeddings
        for anchor, chosen in neighbourhoods(seeder, 12):
            sims = emb @ emb[anchor]
            if rule == "relative" and chosen:
                assert all(sims[r] >= threshold * sims[chosen[0]] - 1e-6 for r in chosen)
            if rule == "same_topic":
                assert all(seeder.topic_of[r] == seeder.topic_of[anchor] for r in chosen)
                assert all(sims[r] >= threshold for r in chosen)


def run_ids(seeder, n=7 * M):
    return [list(s.ids) for s in simulate(seeder, n)]


def test_same_seed_same_seeds_from_parquet_and_in_another_process(seeder, corpus_dir, cache_dir):
    again = TopicAwareSeeder(corpus_dir / "docs.parquet", seed=5, cache_dir=cache_dir, **BASE)
    assert run_ids(again) == run_ids(seeder)
    other = TopicAwareSeeder(corpus_dir / "docs.parquet", seed=6, cache_dir=cache_dir, **BASE)
    assert run_ids(other) != run_ids(seeder)
    code = (
        "import json, sys; from metasynth_hf.seeds import TopicAwareSeeder;"
        "from tests.seeds.test_topic_aware import run_ids, BASE;"
        f"s = TopicAwareSeeder({str(corpus_dir / 'docs.parquet')!r}, seed=5,"
        f" cache_dir={str(cache_dir)!r}, **BASE);"
        "assert 'sentence_transformers' not in sys.modules;"  # embeddings came from the cache
        "print(json.dumps(run_ids(s)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "999", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == run_ids(seeder)


def test_expanded_keywords_join_once_their_source_is_in_history(corpus_dir, cache_dir):
    seeder = TopicAwareSeeder(corpus_dir / "docs.parquet", seed=5, cache_dir=cache_dir, **BASE)
    seeder.expand(["Event loop starvation"], source=2)
    history = [Done(i, None, seeder.seeds_for(i, []).ids) for i in range(2)]
    assert "Event loop starvation" not in seeder.seeds_for(4, history).keywords
    history.append(Done(2, None, seeder.seeds_for(2, history).ids))
    assert "Event loop starvation" in seeder.seeds_for(4, history).keywords


def test_bad_corpus_and_config_fail_before_embedding(rows, tmp_path):
    import datasets

    ds = datasets.Dataset.from_list(rows)
    with pytest.raises(ConfigError) as info:
        TopicAwareSeeder(ds, text_column="body", embedder=NoEmbedding())
    assert "'body'" in str(info.value) and "['id', 'text', 'group']" in str(info.value)
    with pytest.raises(ConfigError, match="split 'train'.*'validation'"):
        TopicAwareSeeder(datasets.DatasetDict(validation=ds), embedder=NoEmbedding())
    numbers = datasets.Dataset.from_list([{"text": i} for i in range(5)])
    with pytest.raises(ConfigError, match="int values"):
        TopicAwareSeeder(numbers, embedder=NoEmbedding())
    with pytest.raises(ConfigError, match="k_min"):
        TopicAwareSeeder(ds, k_min=5, k_max=2, embedder=NoEmbedding())
    with pytest.raises(ConfigError, match="refresh_evry: unknown field"):
        TopicAwareSeeder(ds, {"refresh_evry": 4}, embedder=NoEmbedding())
    with pytest.raises(ConfigError, match="missing.parquet'?: no such file or folder"):
        TopicAwareSeeder(tmp_path / "missing.parquet", embedder=NoEmbedding())
    with pytest.raises(ConfigError, match="no-such-org/no-such-corpus"):
        TopicAwareSeeder("no-such-org/no-such-corpus", embedder=NoEmbedding())


@pytest.mark.parametrize("lanes", [1, 3, 5])
def test_every_document_of_a_block_agrees_on_its_neighbourhood_through_the_engine(
    lanes, corpus_dir, cache_dir, tmp_path
):
    """With lanes > 1 the documents of one block see different histories; the block's seeds are
    chosen from the history its first document sees, so all of them share one neighbourhood."""
    from tests.generation.helpers import run

    seeds = {
        "kind": "topic_aware",
        "corpus": str(corpus_dir / "docs.jsonl"),
        "topic_aware": {**BASE, "cache_dir": str(cache_dir)},
    }
    _, records = run(tmp_path, method="template_icl", num_docs=6 * M, lanes=lanes, seed=5, seeds=seeds)
    assert len(records) == 6 * M
    blocks = [[tuple(r["seed"]) for r in records[b * M : (b + 1) * M]] for b in range(6)]
    assert all(len(set(block)) == 1 for block in blocks), blocks
    assert len({block[0] for block in blocks}) == 6  # and every block has new seeds
