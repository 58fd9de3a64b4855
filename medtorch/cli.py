"""``medtorch <verb> ...``: every act on a run directory after training.

Each verb is one small module in ``medtorch/commands/`` with ``help``, ``add_arguments(parser)``
and ``run(args) -> int``. Modules are imported only when their verb is called, so
``medtorch --help`` and verbs that do not train never import Lightning or Captum.
A ``MedtorchError`` is printed as one line (no traceback) and sets the exit code; any other
exception is one medtorch does not check for: its traceback is printed and the exit code is
``EXIT_INTERNAL_ERROR`` (``EXIT_BAD_INPUT`` for Lightning's refusal of a configuration).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from medtorch.artefacts import artefact
from medtorch.errors import EXIT_OK, EXIT_OUTPUT_CLOSED, MedtorchError, report_unexpected
from medtorch.version import __version__

# verb -> (module, one-line help). Add a verb by adding a module and a line here.
VERBS: dict[str, tuple[str, str]] = {
    "train": ("medtorch.commands.train", "train a model: medtorch train [+experiment=NAME] [key=value ...] (Hydra overrides)"),
    "show": ("medtorch.commands.show", "print a run's status, validation metrics and artefacts"),
    "evaluate": ("medtorch.commands.evaluate", "evaluate a run once on its sealed test set (or --test-data), recorded in the test-set registry"),
    "registry": ("medtorch.commands.registry", "the project's test-set registry: import an old JSONL ledger, verify it"),
    "cv-summary": ("medtorch.commands.cv_summary", "summarise cross-validation fold runs (mean, SD, min, max; plot)"),
    "lineage": ("medtorch.commands.lineage", "show a run's data lineage, or --replay it and compare split hashes"),
    "fingerprint": ("medtorch.commands.fingerprint", "print this stack's fingerprint, or its diff from a run's"),
    "bridge": ("medtorch.commands.bridge", "re-evaluate a run's model on this stack against its reference"),
    "compare": ("medtorch.commands.compare", "lay runs side by side: stack, config, metrics, per-sample agreement"),
    "explain": ("medtorch.commands.explain", "attributions, attention plots and sanity checks for a finished run"),
    "predict": ("medtorch.commands.predict", "check an input against the run's data specification and predict"),
    "monitor": ("medtorch.commands.monitor", "compare new data with the training data: drift and degradation"),
    "unblock": ("medtorch.commands.unblock", "release a monitoring block on predictions after review"),
    "audit": ("medtorch.commands.audit", "verify a run's event log and the hashes of every artefact it records"),
    "report": ("medtorch.commands.report", f"write the run's evidence report ({artefact('report_md').name}, self-contained "
                f"{artefact('report_html').name})"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medtorch",
        description="Train models and act on medtorch run directories. Train with: medtorch train [+experiment=NAME] "
                    "[key=value ...] (or python train.py ... in a checkout)",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="no progress bars (default: progress on a terminal only)")
    parser.add_argument("--version", action="version", version=f"medtorch {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, (module, help_text) in VERBS.items():
        p = sub.add_parser(verb, help=help_text, description=help_text, parents=[] if verb == "train" else [common])
        p.set_defaults(_module=module)
        _lazy_arguments(module, p)
    return parser


def _lazy_arguments(module: str, parser: argparse.ArgumentParser) -> None:
    # commands declare their arguments in a light module-level function; the module itself
    # must keep heavy imports inside run()
    importlib.import_module(module).add_arguments(parser)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:  # everything after it is Hydra's (overrides, -m, --cfg, --help)
        from medtorch.commands.train import run as train

        return train(argparse.Namespace(overrides=argv[1:]))
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "quiet", False):
        from medtorch.progress import configure

        configure("off")
    if not args.verb:
        parser.print_help()
        return EXIT_OK
    command = importlib.import_module(args._module)
    try:
        _refuse_survival(args)
        return int(command.run(args) or EXIT_OK)
    except MedtorchError as e:
        print(f"medtorch {args.verb}: error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:  # the reader of our output closed it (| head): stop quietly, as Python's docs advise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OUTPUT_CLOSED
    except Exception as e:  # not one medtorch checks for: the traceback, and a code no script mistakes for a verdict
        return report_unexpected(e, f"medtorch {args.verb}")


def entry() -> None:
    """The ``medtorch`` console script: ``main`` on the command line, then ``process_exit.finish`` with its status."""
    from medtorch.process_exit import run_then_finish

    run_then_finish(main)


def _refuse_survival(args: argparse.Namespace) -> None:
    """A verb that does not yet handle task=survival runs refuses one (``EXIT_BAD_INPUT``) instead of misreporting it."""
    from medtorch.survival.checks import refuse_unsupported_verb

    for run_dir in [getattr(args, "run", None), *(getattr(args, "runs", None) or [])]:
        refuse_unsupported_verb(args.verb, run_dir)


if __name__ == "__main__":
    entry()
