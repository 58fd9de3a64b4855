"""``medtorch bridge RUN``: re-run preprocessing and inference on the run's bridge set on this stack.

Compares with the reference per sample and per class against the tolerances in the run's
config; writes ``bridge/report_<stack hash>.json`` and ``.md``; appends to the event log.
Exit 0 when every check passes, 4 when any fails.
"""

from __future__ import annotations

import argparse

from medtorch.errors import EXIT_OK
from medtorch.stack import settings as stack_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory")
    stack_settings.add_arguments(parser, override=False)


def run(args: argparse.Namespace) -> int:
    from medtorch.loading import load_run
    from medtorch.stack.bridge import run_bridge, summary
    from medtorch.stack.gate import BridgeFailedError

    loaded = load_run(args.run, purpose="bridge", settings=stack_settings.from_args(args))
    report = run_bridge(loaded, purpose="bridge")
    print(summary(report, loaded.rd))
    return EXIT_OK if report.passed else BridgeFailedError.exit_code
