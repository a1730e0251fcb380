"""CLI subcommands that glue stages together (generation, push, compare)."""
