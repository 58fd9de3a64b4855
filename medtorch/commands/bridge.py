"""``medtorch bridge RUN``: re-run preprocessing and inference on the run's bridge set on this stack.

Compares with the reference per sample and per class against the tolerances in the run's
config; writes ``bridge/report_<stack hash>.json`` and ``.md``; appends to the event log.
Exit ``EXIT_OK`` when every check passes, ``EXIT_BRIDGE_FAILED`` when any fails (``medtorch/errors.py``).
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
    from medtorch.stack.gate import BridgeFailedError, put_on_stack

    from medtorch.survival.checks import is_survival_run

    if is_survival_run(args.run):  # risk-score differences and rank agreement (medtorch/survival/bridge.py)
        from medtorch.survival.bridge import bridge_survival

        report, code = bridge_survival(args.run, dtype=args.dtype, device=args.device, threads=args.threads)
        for name, c in report["checks"].items():
            print(f"  {name}: {c['observed']:.3g} (tolerance {c['tolerance']:g}) {'ok' if c['passed'] else 'FAILED'}")
        print(f"bridge {'passed' if report['passed'] else 'FAILED'} on {report['rows']} rows (stack {report['this_stack'][:16]}...)")
        return code
    loaded = put_on_stack(load_run(args.run), stack_settings.from_args(args))
    report = run_bridge(loaded, purpose="bridge")
    print(summary(report, loaded.rd))
    return EXIT_OK if report.passed else BridgeFailedError.exit_code
