"""Keyword-based seeds: determinism (in and across processes), coverage and expansion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field

import pytest

from metasynth_hf.errors import ConfigError
from metasynth_hf.seeds import FinishedDoc, KeywordSeeder, Seeder, SeedSet


@dataclass(frozen=True)
class Done:
    index: int
    topic: str | None = None
    seed_ids: tuple[str, ...] = field(default_factory=tuple)


def draws(seeder: KeywordSeeder, n: int) -> list[tuple[str, ...]]:
    return [seeder.seeds_for(i, []).keywords for i in range(n)]


def test_implements_the_protocols():
    seeder = KeywordSeeder("finance")
    assert isinstance(seeder, Seeder)
    assert isinstance(Done(0), FinishedDoc)
    seeds = seeder.seeds_for(0, [])
    assert isinstance(seeds, SeedSet) and seeds.ids == seeds.keywords and not seeds.documents


def test_same_seed_same_keywords_other_seed_other_keywords():
    a, b = KeywordSeeder("finance", k=4, seed=7), KeywordSeeder("finance", k=4, seed=7)
    assert draws(a, 300) == draws(b, 300)
    # asking in another order (as concurrent lanes do) changes nothing
    assert [a.seeds_for(i, []).keywords for i in reversed(range(300))][::-1] == draws(b, 300)
    other = draws(KeywordSeeder("finance", k=4, seed=8), 300)
    assert sum(x != y for x, y in zip(other, draws(a, 300), strict=True)) > 290


def test_same_keywords_in_another_process_with_another_hash_seed():
    code = (
        "import json; from metasynth_hf.seeds import KeywordSeeder;"
        "s = KeywordSeeder('biomedicine', k=3, seed=11);"
        "print(json.dumps([s.seeds_for(i, []).keywords for i in range(0, 2000, 37)]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    here = KeywordSeeder("biomedicine", k=3, seed=11)
    assert json.loads(out) == [list(here.seeds_for(i, []).keywords) for i in range(0, 2000, 37)]


@pytest.mark.parametrize(("domain", "k"), [("finance", 3), ("biomedicine", 5), ("finance", 7)])
def test_every_keyword_is_dealt_before_any_repeats(domain, k):
    seeder = KeywordSeeder(domain, k=k, seed=3)
    n = len(seeder.keywords)
    per_epoch = draws(seeder, n // k)
    counts = Counter(kw for doc in per_epoch for kw in doc)
    assert max(counts.values()) == 1 and len(counts) == (n // k) * k
    covered = {kw for doc in draws(seeder, -(-n // k)) for kw in doc}
    assert covered == set(seeder.keywords)
    many = draws(seeder, 5 * n // k + 3)  # crosses several reshuffles
    assert all(len(set(doc)) == k for doc in many)
    usage = Counter(kw for doc in many for kw in doc)
    assert max(usage.values()) - min(usage.values()) <= 2


def test_k_is_checked(tmp_path):
    path = tmp_path / "kw.txt"
    path.write_text("alpha\nbeta\n")
    with pytest.raises(ConfigError, match="seeds.k"):
        KeywordSeeder(path, k=3)
    with pytest.raises(ConfigError, match="seeds.k"):
        KeywordSeeder("finance", k=0)
    assert sorted(KeywordSeeder(path, k=2).seeds_for(5, []).keywords) == ["alpha", "beta"]


def test_expanded_keywords_follow_history_not_arrival_order():
    seeder = KeywordSeeder("finance", k=3, seed=1, expanded_per_doc=2)
    seeder.expand(["Repo Haircut", "treasury bond"], source=4)  # the second is a base keyword
    seeder.expand(["collateral velocity"], source=9)
    assert seeder.seeds_for(10, []).keywords == seeder.seeds_for(10, []).keywords[:3]
    with_4 = seeder.seeds_for(10, [Done(4)]).keywords
    assert with_4[:3] == seeder.base_keywords(10) and with_4[3:] == ("Repo Haircut",)
    both = seeder.seeds_for(10, [Done(4), Done(9)]).keywords
    assert set(both[3:]) == {"Repo Haircut", "collateral velocity"}

    reordered = KeywordSeeder("finance", k=3, seed=1, expanded_per_doc=2)
    reordered.expand(["collateral velocity"], source=9)
    reordered.expand(["repo haircut", "Repo  Haircut"], source=4)
    assert reordered.seeds_for(10, [Done(9), Done(4)]).keywords == both


def test_expanded_keywords_without_source_are_visible_at_once():
    seeder = KeywordSeeder("biomedicine", k=2, seed=0, expanded_per_doc=1)
    seeder.expand(["", "  ", "ferroptosis"])
    assert seeder.expanded_keywords() == ("ferroptosis",)
    assert seeder.seeds_for(3, []).keywords[-1] == "ferroptosis"
    assert KeywordSeeder("biomedicine", k=2, expanded_per_doc=0).seeds_for(3, []).keywords == (seeder.base_keywords(3))
