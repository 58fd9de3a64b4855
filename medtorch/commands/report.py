"""``medtorch report RUN``: write the Markdown and a self-contained HTML report into the run.

The run's audit trail is verified first; a changed artefact is refused (``EXIT_INTEGRITY``).
"""

from __future__ import annotations

import argparse

from medtorch.artefacts import artefact
from medtorch.errors import EXIT_OK, MedtorchError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory")
    parser.add_argument("--pdf", action="store_true",
                        help=f"also write {artefact('report_pdf').name} (fails with a clear message when no headless Chromium is found)")


def run(args: argparse.Namespace) -> int:
    from medtorch.report.build import write_report
    from medtorch.report.cv_root import is_cv_root, write_cv_report
    from medtorch.survival.checks import is_survival_run

    if is_cv_root(args.run):  # a CV root gets its own report
        md, html = write_cv_report(args.run, pdf=True if args.pdf else None)
    elif is_survival_run(args.run):  # task=survival has its own report (medtorch/survival/report.py)
        from medtorch.survival.report import write_report as write_survival_report

        html_name, md_name = artefact("report_html").name, artefact("report_md").name

        if args.pdf:
            raise MedtorchError(f"{args.run}: --pdf is not available for task=survival runs yet; their report is "
                                f"{html_name} and {md_name} (run medtorch report RUN without --pdf).")
        md, html = write_survival_report(args.run)
    else:
        md, html = write_report(args.run, pdf=True if args.pdf else None)
    pdf = html.with_name(artefact("report_pdf").name)
    print(f"wrote {md}\nwrote {html}" + (f"\nwrote {pdf}" if pdf.is_file() else ""))
    return EXIT_OK
