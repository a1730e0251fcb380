"""`metasynth`: one entry point; each subcommand lives in the module that does the work.

A subcommand module exposes `add_arguments(parser)` and `run(args) -> int`. Modules are
imported only when their subcommand runs, so `metasynth --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from metasynth_hf import __version__
from metasynth_hf.errors import MetaSynthError
from metasynth_hf.signals import Stopped

#: name -> (module, one-line help). Order is the order shown in --help.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "generate": (
        "metasynth_hf.commands.generate",
        "generate a synthetic corpus (MetaSynth or a baseline)",
    ),
    "merge": (
        "metasynth_hf.commands.merge",
        "merge the shards of one run into parquet (one dataset)",
    ),
    "stats": (
        "metasynth_hf.commands.stats",
        "diversity statistics of corpora, as a table, JSON and plots",
    ),
    "clean": ("metasynth_hf.commands.clean", "dedup, quality-filter and decontaminate a corpus"),
    "push": (
        "metasynth_hf.commands.push",
        "upload a generated corpus and its dataset card to the Hub",
    ),
    "compare": (
        "metasynth_hf.commands.compare",
        "generate every method's corpus and compare diversity",
    ),
    "train": (
        "metasynth_hf.commands.train",
        "continual pre-training with TRL (use under accelerate launch)",
    ),
}

DESCRIPTION = """\
MetaSynth: diverse synthetic pre-training corpora. A meta-LM conductor writes instructions for
expert agents (keyword extraction, domain expert, summarizer, content analyst) and conditions
each new document on summaries of earlier ones (up to instance_table.max_entries, 12 by default,
chosen by recency and similarity to its seeds). Runs on the embedded SmolLM2 model (llama.cpp) by
default, or on Text Generation Inference / any OpenAI-compatible endpoints.

Examples:
  metasynth generate --domain finance --num-docs 8 --out corpus/
  metasynth generate --config run.yaml --shard 0/4
  metasynth stats corpus/ --reference real.parquet
  metasynth push corpus/ --repo-id you/finance-metasynth
"""


def _available() -> dict[str, tuple[str, str]]:
    found = {}
    for name, (module, help_text) in SUBCOMMANDS.items():
        if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None:
            continue
        try:
            if importlib.util.find_spec(module) is not None:
                found[name] = (module, help_text)
        except ModuleNotFoundError:
            continue
    return found


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The CLI parser. Given `argv`, only the subcommand it names imports its module (the others
    get their name and help): a command's start does not pay for every other command's imports."""
    chosen = next((a for a in argv if not a.startswith("-")), None) if argv else None
    chosen = chosen if chosen in SUBCOMMANDS else None
    parser = argparse.ArgumentParser(
        prog="metasynth",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"metasynth-hf {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = {chosen: SUBCOMMANDS[chosen]} if chosen else _available()
    for name, (module, help_text) in commands.items():
        sub_parser = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub_parser.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(sub_parser)
    return parser


def os_error_line(exc: OSError) -> str:
    """One line for an environment error: what failed, on which file, and what to do."""
    import errno

    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"no space left on the device{where}; finished work is kept: free some space, then "
            "rerun the same command to resume"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{exc.strerror}{where}; choose a writable --out or fix the folder's permissions"
    return f"{exc.strerror or exc}{where}; check the path and rerun (finished work is kept)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        module = importlib.import_module(args._module) if getattr(args, "_module", None) else None
        passthrough = getattr(module, "PASSTHROUGH_FIELD", None)
        if passthrough is None:
            parser.parse_args(argv)  # reports the unknown arguments the usual way
        assert passthrough is not None  # parse_args exited on the unknown arguments
        setattr(args, passthrough, [*unknown, *(getattr(args, passthrough, None) or [])])
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    _quiet_library_output(args.verbose)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except MetaSynthError as exc:
        print(f"metasynth {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:  # an import no extra guards: still one line, with the fix
        print(
            f"metasynth {args.command}: error: the Python module {exc.name!r} is not installed; "
            "pip install 'metasynth-hf[all]' (or the extra this command's docs name)",
            file=sys.stderr,
        )
        return 1
    except ImportError as exc:  # a broken or partial install of an optional package
        print(
            f"metasynth {args.command}: error: {exc}; reinstall it, e.g. pip install 'metasynth-hf[all]'",
            file=sys.stderr,
        )
        return 1
    except OSError as exc:  # the environment: a full disk, a read-only or missing folder
        print(f"metasynth {args.command}: error: {os_error_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM / SIGUSR1 (`Stopped`) where a command handles them
        _stop_embedded_engines()
        how = f"stopped by {exc.name}" if isinstance(exc, Stopped) else "interrupted"
        print(
            f"metasynth {args.command}: {how}; finished work is kept, rerun the same command to resume",
            file=sys.stderr,
        )
        return exc.exit_code if isinstance(exc, Stopped) else 130


def _stop_embedded_engines() -> None:
    """Wait for the embedded model's decode thread to stop before the interpreter exits: freeing
    llama.cpp's context under a running decode crashed the process (exit 139)."""
    local = sys.modules.get("metasynth_hf.llm.local")  # imported only where the embedded model ran
    if local is not None:
        local.close_engines()


def _quiet_library_output(verbose: int) -> None:
    """Progress bars and logs that are not ours (parquet export, index flattening, llama.cpp's
    graph dumps) only with -v; ours stay."""
    if verbose:
        logging.getLogger("llama-cpp-python").setLevel(logging.INFO if verbose > 1 else logging.WARNING)
        return
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    # huggingface_hub's switch also silences transformers' "Loading weights" bars.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()
    # datasets reads these when it is imported; importing it just to switch them costs ~1 s
    # of every command's start (generate never needs it on endpoints).
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("DATASETS_VERBOSITY", "error")
    datasets = sys.modules.get("datasets")
    if datasets is not None:  # already imported (an embedding program, the tests)
        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()


if __name__ == "__main__":
    sys.exit(main())
