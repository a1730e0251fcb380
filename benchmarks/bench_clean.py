"""`metasynth clean` on a 25M-word corpus: wall time, peak memory, and what it found.

The corpus is generated here, offline and deterministically: an order-2 word Markov chain
trained on the English prose of the Python standard library's docstrings writes documents
of 8-60 sentences in paragraphs (200-1500 words, like generated pre-training documents).
Into it we plant known problems: exact copies, edited near copies (1-2% of words replaced),
assistant/JSON artefacts, looping documents, and passages of a synthetic evaluation set.
The clean run is a real `metasynth clean DIR --out OUT` subprocess with a fresh datasets
cache, so its peak RSS (getrusage of the child) includes loading and writing.

    python benchmarks/bench_clean.py                     # 25M words (~5 min to generate once)
    python benchmarks/bench_clean.py --words 2000000     # quick look
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import re
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_PROSE_RE = re.compile(r"^[A-Z][A-Za-z ,;'\-]+[.]$")


def prose_sentences() -> list[list[str]]:
    """Plain-English sentences from the stdlib's docstrings (no code, no markup)."""
    out = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        if "test" in path.parts or "site-packages" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="ignore"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                doc = ast.get_docstring(node) or ""
                for sentence in _SENTENCE_RE.split(" ".join(doc.split())):
                    if _PROSE_RE.match(sentence) and 6 <= sentence.count(" ") <= 40:
                        out.append(sentence.split())
    return out


class Markov:
    """Order-2 word chain; sentences end at a word ending in a full stop."""

    def __init__(self, sentences: list[list[str]]):
        self.next: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.starts = [tuple(s[:2]) for s in sentences]
        for s in sentences:
            for a, b, c in zip(s, s[1:], s[2:], strict=False):
                self.next[(a, b)].append(c)

    def sentence(self, rng: random.Random) -> str:
        a, b = rng.choice(self.starts)
        words = [a, b]
        while not words[-1].endswith(".") and len(words) < 45:
            followers = self.next.get((a, b))
            if not followers:
                break
            a, b = b, rng.choice(followers)
            words.append(b)
        text = " ".join(words)
        return text if text.endswith(".") else text + "."


def document(chain: Markov, rng: random.Random) -> str:
    sentences = [chain.sentence(rng) for _ in range(rng.randint(8, 60))]
    paragraphs, i = [], 0
    while i < len(sentences):
        step = rng.randint(3, 6)
        paragraphs.append(" ".join(sentences[i : i + step]))
        i += step
    return "\n\n".join(paragraphs)


def plant(kind: str, rng: random.Random, base: str, chain: Markov, evals: list[str]) -> str:
    if kind == "exact":
        return base
    if kind == "near":
        words = base.split(" ")
        for i in rng.sample(range(len(words)), max(1, len(words) // rng.choice([50, 100, 200]))):
            tail = words[i][-1] if words[i][-1] in ".,;" else ""
            words[i] = rng.choice(["notably", "in", "several", "often", "the"]) + tail
        return " ".join(words)
    if kind == "artefact":
        return rng.choice(["Sure, here is the document.\n\n", '{"document": "', "As an AI model, "]) + base
    if kind == "loop":
        line = chain.sentence(rng)
        return "\n".join([line] * 20) + "\n\n" + base
    return base + "\n\n" + rng.choice(evals)  # contamination


def shingle_jaccard(a: str, b: str, k: int = 5) -> float:
    """True Jaccard of lowercased word 5-shingles, what MinHash estimates."""

    def shingles(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"\w+", text.lower())
        return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}

    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def generate(out: Path, words_target: int, seed: int) -> dict:
    """Write the corpus as parquet shards, return the planted counts (cached by arguments)."""
    marker = out / "planted.json"
    if marker.exists():
        return json.loads(marker.read_text())
    rng = random.Random(seed)
    chain = Markov(prose_sentences())
    # out-of-corpus passages (random vocabulary words): the corpus shares 13-grams with them
    # only where we plant them; Markov sentences would share the chain's memorised runs
    vocab = sorted({w for pair in chain.next for w in pair})
    evals = [" ".join(rng.choices(vocab, k=rng.randint(10, 40))) + "." for _ in range(500)]
    (out / "evals").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"question": evals}), out / "evals" / "test.parquet")
    kinds = ["exact"] * 3 + ["near"] * 5 + ["artefact"] + ["loop"] + ["contaminated"]
    planted: dict[str, int] = defaultdict(int)
    corpus = out / "corpus"
    corpus.mkdir(exist_ok=True)
    words = shard = 0
    recent: list[str] = []
    while words < words_target:
        rows = []
        for _ in range(2000):
            similarity = None
            if recent and rng.random() < 0.11:
                kind, base = rng.choice(kinds), rng.choice(recent)
                text = plant(kind, rng, base, chain, evals)
                planted[kind] += 1
                similarity = shingle_jaccard(text, base) if kind == "near" else None
            else:
                kind, text = "clean", document(chain, rng)
                recent = (recent + [text])[-5000:]
            row = {"id": f"d{shard}-{len(rows)}", "text": text, "domain": "bench"}
            rows.append({**row, "planted": kind, "planted_jaccard": similarity})
            words += text.count(" ") + 1
        pq.write_table(pa.Table.from_pylist(rows), corpus / f"shard-{shard:04d}.parquet")
        shard += 1
    info = {"words": words, "documents": shard * 2000, "planted": dict(planted)}
    marker.write_text(json.dumps(info))
    return info


def near_recall(corpus: Path, removed_ids: set[str]) -> list[str]:
    """Recall of planted near copies, by their true Jaccard with the original."""
    table = pq.read_table(corpus, columns=["id", "planted", "planted_jaccard"]).to_pylist()
    bins = {"J >= 0.9": [0, 0], "0.8 <= J < 0.9": [0, 0], "J < 0.8": [0, 0]}
    for row in table:
        if row["planted"] != "near":
            continue
        j = row["planted_jaccard"]
        name = "J >= 0.9" if j >= 0.9 else "0.8 <= J < 0.9" if j >= 0.8 else "J < 0.8"
        bins[name][0] += row["id"] in removed_ids
        bins[name][1] += 1
    return [f"{name}: {hit}/{total}" for name, (hit, total) in bins.items()]


def run_clean(work: Path, tmp: str) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one `metasynth clean` subprocess."""
    cmd = [sys.executable, "-m", "metasynth_hf.cli", "clean", str(work / "corpus")]
    cmd += ["--out", f"{tmp}/out", "--eval", str(work / "evals")]
    env = {"HF_DATASETS_CACHE": f"{tmp}/hf-cache", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=25_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "metasynth-bench-clean")
    args = parser.parse_args()
    work = args.workdir / f"w{args.words}-s{args.seed}"
    started = time.perf_counter()
    info = generate(work, args.words, args.seed)
    took = time.perf_counter() - started
    print(f"corpus: {info['documents']} docs, {info['words']:,} words ({took:.0f}s to make/find)")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        wall, cpu, peak_mb = run_clean(work, tmp)
        report = json.loads(Path(f"{tmp}/out/clean_report.json").read_text())
        removed = pq.read_table(f"{tmp}/out/removed.parquet", columns=["id", "planted", "clean_rule"])
        removed_rows = removed.to_pylist()
    rate = info["words"] / wall / 1e6
    print(f"clean: {wall:.1f}s wall, {cpu:.1f}s CPU ({rate:.2f}M words/s wall), peak RSS {peak_mb:.0f} MB")
    print(f"  rule sections (s): {report['seconds_by_section']}; LSH {report['near_dedup_lsh']}")
    found: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in removed_rows:
        found[row["planted"]][row["clean_rule"]] += 1
    print(f"{'planted':<13}{'count':>7}  removed as")
    for kind, count in sorted(info["planted"].items()):
        print(f"{kind:<13}{count:>7}  {dict(found.get(kind, {}))}")
    print(f"{'(unplanted)':<13}{'':>7}  {dict(found.get('clean', {}))}")
    print(
        "near copies found, by true 5-shingle Jaccard:",
        ", ".join(near_recall(work / "corpus", {row["id"] for row in removed_rows})),
    )


if __name__ == "__main__":
    main()
