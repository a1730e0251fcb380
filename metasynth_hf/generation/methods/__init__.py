"""One module per generation method; each makes documents through the `Producer` protocol.

- `metasynth.py`: MetaSynth (conductor + experts + instance table), keyword or topic-aware seeds
- `template.py`: the paper's three template baselines (`template`, `template_prior`, `template_icl`)
- `instruct.py`: MetaSynth-Instruct (instructions evolved from documents by the same conductor loop)
"""
