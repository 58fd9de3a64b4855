"""``medtorch report RUN``: write report.md and a self-contained report.html into the run.

The run's audit trail is verified first; a changed artefact is refused (exit 3).
"""

from __future__ import annotations

import argparse

from medtorch.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory")


def run(args: argparse.Namespace) -> int:
    from medtorch.report.build import write_report
    from medtorch.survival.checks import is_survival_run

    if is_survival_run(args.run):  # task=survival has its own report (medtorch/survival/report.py)
        from medtorch.survival.report import write_report
    md, html = write_report(args.run)
    print(f"wrote {md}\nwrote {html}")
    return EXIT_OK
