"""Deterministic, ordinary-looking English documents for the cleaning tests.

Documents are drawn from a pool of distinct sentences (no sentence repeats inside a document),
so unrelated documents share few word 5-grams, while edited copies share most of them.
"""

from __future__ import annotations

import random
import re

SENTENCES = [
    "Quarterly earnings at the regional bank rose after it trimmed its branch network.",
    "Analysts expect the central bank to hold interest rates steady through the spring.",
    "A diversified bond ladder can soften the blow of sudden rate increases.",
    "The clinical trial enrolled four hundred adults with moderate asthma.",
    "Researchers measured blood glucose every morning for twelve consecutive weeks.",
    "Inflation in services has proved stickier than economists had predicted.",
    "The hospital introduced a checklist that cut surgical infections by a third.",
    "Small businesses often struggle to obtain credit during a downturn.",
    "Vaccination coverage in rural districts still lags behind the cities.",
    "The pension fund shifted part of its portfolio toward infrastructure debt.",
    "Patients reported fewer side effects on the lower dose of the drug.",
    "Currency swings erased most of the exporter's gains in the second half.",
    "A randomized design protects the study from many kinds of selection bias.",
    "The auditors flagged several invoices that lacked supporting documents.",
    "Genome sequencing costs have fallen faster than most people expected.",
    "Mortgage applications dipped as borrowing costs reached a ten year high.",
    "Nurses on the night shift documented each dose in the electronic record.",
    "The startup raised fresh capital to expand its lending platform abroad.",
    "Antibiotic resistance makes routine infections harder and costlier to treat.",
    "Commodity prices rallied when the shipping route reopened in October.",
    "The committee asked for a clearer explanation of the risk weights used.",
    "Sleep deprivation impairs memory consolidation in healthy volunteers.",
    "Retail investors poured money into index funds during the first quarter.",
    "The new imaging protocol halved the time needed for each scan.",
    "Corporate bond spreads widened slightly after the earnings warnings.",
    "Dietary fiber appears to support a more diverse gut microbiome.",
    "The insurer raised premiums to cover a wave of storm related claims.",
    "Physicians must weigh the benefits of screening against false alarms.",
    "Treasury yields fell as traders sought safety from the equity selloff.",
    "The laboratory validated the assay against three independent reference samples.",
    "Household savings rates have drifted lower since the pandemic peak.",
    "Early mobility after surgery shortens the average hospital stay.",
    "The merger will combine two of the largest payment processors in Europe.",
    "Blood pressure readings were taken in a quiet room after five minutes of rest.",
    "Venture funding for biotechnology firms slowed for a second straight year.",
    "The regulator proposed stricter liquidity rules for midsize lenders.",
    "Children who read daily tend to build a larger vocabulary by age ten.",
    "Fuel costs weigh heavily on the operating margins of regional airlines.",
    "The cohort study followed twelve thousand participants for two decades.",
    "Dividend payouts remained stable despite the weaker cash flow.",
    "Telehealth visits became routine for follow up care in many clinics.",
    "A weaker yen has lifted the profits of large Japanese manufacturers.",
    "The vaccine produced a strong antibody response in older adults.",
    "Credit card balances climbed to a record level in the latest survey.",
    "Hand hygiene audits are published monthly on the ward notice board.",
    "The fund manager trimmed her holdings of technology shares in March.",
    "Chronic stress is associated with higher levels of inflammatory markers.",
    "Farm incomes improved as grain exports recovered from the drought.",
    "The pharmacy switched suppliers after repeated shortages of the generic.",
    "Bank regulators examined how quickly deposits could leave in a panic.",
    "Physical therapy improved knee function more than rest alone.",
    "The company's free cash flow covered its capital spending twice over.",
    "Public health officials traced the outbreak to a contaminated water tank.",
    "Rising rents have pushed many young workers to share apartments.",
    "The enzyme breaks down the protein into smaller fragments within minutes.",
    "Bond investors demanded a higher premium to lend for thirty years.",
    "Several hospitals pooled their data to study rare heart conditions.",
    "The tax credit encouraged households to install heat pumps.",
    "A placebo group allowed the team to separate real effects from expectation.",
    "Exchange traded funds now hold a large share of the corporate bond market.",
]


def document(rng: random.Random, sentences: int = 24) -> str:
    """Sentences drawn without replacement, in paragraphs of four."""
    picked = rng.sample(SENTENCES, sentences)
    paragraphs = [" ".join(picked[i : i + 4]) for i in range(0, len(picked), 4)]
    return "\n\n".join(paragraphs)


def corpus(count: int, seed: int = 0, sentences: int = 24) -> list[dict]:
    """Unrelated documents with ids and the extra columns a generated corpus carries."""
    rng = random.Random(seed)
    return [
        {
            "id": f"doc-{i}",
            "text": document(rng, sentences),
            "domain": "finance" if i % 2 else "biomedicine",
            "method": "metasynth",
            "provenance": {"seed": i, "model": "smollm2"},
        }
        for i in range(count)
    ]


def edit(text: str, rng: random.Random, words: int) -> str:
    """Replace `words` random words with other words (an edited, near-duplicate copy)."""
    tokens = text.split(" ")
    for index in rng.sample(range(len(tokens)), words):
        tokens[index] = rng.choice(["notably", "broadly", "its", "several", "modest", "recent"])
    return " ".join(tokens)


def shingle_jaccard(a: str, b: str, k: int = 5) -> float:
    """True Jaccard similarity of lowercased word k-shingle sets (what MinHash estimates)."""

    def shingles(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"\w+", text.lower())
        return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}

    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)
