"""Continual pre-training behind `metasynth train` and the recipes in recipes/.

One job per module: `cpt` (the training run itself), `args` (the argument dataclasses and
parser), `data` (corpus loading and mixing), `perplexity` (held-out evaluation), `throughput`
(tokens/s and memory); GGUF -> trainable checkpoint is `metasynth_hf.causal_lm`. Nothing here
imports the generator: training consumes a corpus, it never produces one. Heavy libraries
(torch, transformers, trl) are imported inside functions so that `metasynth --help` stays fast.
"""
