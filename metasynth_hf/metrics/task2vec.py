"""Task2Vec diversity coefficient (Miranda et al. 2023, "Beyond Scale"). Higher = more diverse.

Procedure of the paper's code (alycialee/beyond-scale-language-data-diversity): draw `num_batches`
random batches ("tasks") of documents; tokenize to `max_length` tokens (padded, truncated);
optionally fit the LM head on the batch (`finetune_epochs`, AdamW); estimate the diagonal Fisher
information of the probe LM with targets sampled from the model itself (Monte Carlo), gradients
squared per mini-batch and averaged; the task embedding is, for every module with a weight except
the output head, the Fisher averaged over each output filter (row). The coefficient is the mean
over batch pairs of the cosine distance between the "scaled hessians" h_a / (h_a + h_b + 1e-8)
and h_b / (h_a + h_b + 1e-8), with a 95% t-interval over the pairs.

Deliberate differences from that code, each a fix, not a new definition:
- the sampled target at position t is scored against the logits at t (the reference pairs the
  logits at t with the sample drawn at t + 1), and padding is masked by the attention mask (the
  reference masks GPT-2's token 50256 only);
- every batch uses the same sampling seed for the Monte Carlo targets (common random numbers), so
  two identical batches get distance 0 and the coefficient measures the data, not sampling noise.
The default probe is the embedded SmolLM2-135M (the paper's probe model is not confirmed by the
sources available here), so absolute values are comparable between corpora scored here, not with
the paper's table.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from metasynth_hf.errors import missing_dependency
from metasynth_hf.metrics.config import DEFAULT_CONFIG, CorpusError, MetricsConfig
from metasynth_hf.metrics.corpus import Texts, num_documents, take
from metasynth_hf.metrics.embeddings import cpu_threads

logger = logging.getLogger(__name__)


def scaled_cosine_distance(h0: np.ndarray, h1: np.ndarray) -> float:
    """The reference's `task_similarity.cosine`: cosine distance of mutually scaled hessians."""
    total = h0 + h1 + 1e-8
    a, b = h0 / total, h1 / total
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return float(1.0 - (a @ b) / denom) if denom > 0 else 0.0


def mean_confidence_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) with a Student-t interval, as the reference's `uutils` helper."""
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = float(stats.sem(values) * stats.t.ppf((1 + confidence) / 2.0, len(values) - 1))
    return mean, mean - half, mean + half


def _tokenize(tokenizer, texts: list[str], max_length: int):
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer(texts, padding="max_length", truncation=True, max_length=max_length, return_tensors="pt")


def _masked_ce(logits, targets, mask):
    import torch.nn.functional as F

    losses = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="none")
    weights = mask.flatten().float()
    return (losses * weights).sum() / weights.sum().clamp(min=1.0)


def _finetune_head(model, batches, epochs: int, lr: float) -> None:
    """Fit the output head on next-token prediction, the rest frozen (the reference's finetune)."""
    import torch

    head = model.get_output_embeddings().weight
    optimizer = torch.optim.AdamW([head], lr=lr, eps=1e-8, weight_decay=0.0001)
    for _ in range(epochs):
        for enc in batches:
            optimizer.zero_grad(set_to_none=True)
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
            mask = enc["attention_mask"][:, 1:]
            loss = _masked_ce(logits[:, :-1], enc["input_ids"][:, 1:], mask)
            loss.backward()
            optimizer.step()


def _fisher_embedding(model, batches, seed: int) -> np.ndarray:
    """Monte Carlo diagonal Fisher, averaged per output filter of every weight but the head.

    The row mean is linear, so each mini-batch's squared gradient is reduced to row means at
    once: no full-size accumulators (the probe's 135M floats), same numbers.
    """
    import torch

    head = model.get_output_embeddings()
    weights = []
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if module is not head and isinstance(weight, torch.nn.Parameter) and weight.requires_grad:
            weights.append(weight)
    acc = [torch.zeros(w.shape[0], dtype=torch.float64) for w in weights]
    generator = torch.Generator().manual_seed(seed)
    for enc in batches:
        logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
        with torch.no_grad():
            probs = torch.softmax(logits.float().flatten(0, 1), dim=-1)
            targets = torch.multinomial(probs, 1, generator=generator).view(logits.shape[:2])
        loss = _masked_ce(logits, targets, enc["attention_mask"])
        model.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            for a, w in zip(acc, weights, strict=True):
                if w.grad is not None:
                    a += w.grad.pow(2).reshape(w.shape[0], -1).mean(dim=1, dtype=torch.float64)
    model.zero_grad(set_to_none=True)
    return torch.cat(acc).div_(len(batches)).numpy()


def task_embedding(model, tokenizer, texts: list[str], config: MetricsConfig, seed: int) -> np.ndarray:
    """Task2Vec embedding of one batch of documents."""
    import torch

    enc = _tokenize(tokenizer, texts, config.task2vec_max_length)
    step = config.task2vec_minibatch
    batches = [{k: v[i : i + step] for k, v in enc.items()} for i in range(0, len(texts), step)]
    head = model.get_output_embeddings().weight
    saved = head.detach().clone() if config.task2vec_finetune_epochs else None
    try:
        if saved is not None:
            torch.manual_seed(seed)
            _finetune_head(model, batches, config.task2vec_finetune_epochs, config.task2vec_learning_rate)
        return _fisher_embedding(model, batches, config.seed)
    finally:
        if saved is not None:
            with torch.no_grad():
                head.copy_(saved)  # every batch starts from the same pretrained probe


def load_probe(reference: str):
    """(tokenizer, model) of the probe LM; `smollm2` is the embedded default."""
    try:
        from metasynth_hf.causal_lm import load_causal_lm
    except ImportError as exc:  # pragma: no cover
        raise missing_dependency("transformers and torch", "local") from exc
    return load_causal_lm(reference)


def task2vec_diversity(texts: Texts, config: MetricsConfig = DEFAULT_CONFIG, *, probe=None) -> dict:
    """Diversity coefficient with its 95% CI; `probe` = (tokenizer, model) to reuse a loaded LM."""
    n = num_documents(texts)
    if n < 2:
        raise CorpusError(f"Task2Vec diversity compares batches of documents; got {n}, pass at least 2")
    tokenizer, model = probe or load_probe(config.task2vec_probe)
    model.train(False)  # dropout off: the Fisher is of the deterministic probe
    size = config.task2vec_batch_size
    if size >= n:  # every batch would be the whole corpus: identical batches, distance 0
        size = max(1, n // 2)
        logger.warning(
            "task2vec: %d documents for batches of %d; using batches of %d so they differ",
            n,
            config.task2vec_batch_size,
            size,
        )
    embeddings = []
    started = time.perf_counter()
    for task in range(config.task2vec_num_batches):
        rng = np.random.default_rng(config.seed + task)
        indices = sorted(rng.choice(n, size=size, replace=False).tolist())
        with cpu_threads(config.cpu_threads):
            embeddings.append(task_embedding(model, tokenizer, take(texts, indices), config, config.seed + task))
        logger.info("task2vec batch %d/%d", task + 1, config.task2vec_num_batches)
    distances = np.array(
        [
            scaled_cosine_distance(embeddings[i], embeddings[j])
            for i in range(len(embeddings))
            for j in range(i + 1, len(embeddings))
        ]
    ).clip(min=0.0)  # a cosine distance is >= 0; identical batches give -1e-16 in floating point
    mean, low, high = mean_confidence_interval(distances)
    return {
        "value": mean,
        "ci95": [low, high],
        "sample_size": {
            "batches": len(embeddings),
            "sequences_per_batch": size,
            "max_length": config.task2vec_max_length,
        },
        "seed": config.seed,
        "probe": config.task2vec_probe,
        "finetune_epochs": config.task2vec_finetune_epochs,
        "seconds": time.perf_counter() - started,
    }
