"""LLM layer: one async chat protocol, endpoint pools, the embedded model, a response cache."""
