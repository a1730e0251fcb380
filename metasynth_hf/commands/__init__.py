"""Every `metasynth` subcommand, one module each: parse the arguments, call the library, print.

`metasynth_hf/cli.py` lists them; each module has `add_arguments(parser)` and `run(args)`.
"""
