"""Continual pre-training helpers behind `metasynth train` and the recipes in recipes/.

One job per module: `args` (the argument dataclasses and parser), `data` (corpus loading and
mixing), `convert` (GGUF -> trainable checkpoint), `perplexity` (held-out evaluation),
`throughput` (tokens/s and memory). Nothing here imports the generator: training consumes a
corpus, it never produces one. Heavy libraries (torch, transformers, trl) are imported inside
functions so that `metasynth --help` stays fast.
"""
