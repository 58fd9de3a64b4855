"""``medtorch monitor RUN --input FILE [--labels COLUMN] [--time COLUMN]``: drift and degradation.

Exit codes (``medtorch/errors.py``), so a scheduler can alert: ``EXIT_OK`` nothing crossed a
threshold; ``EXIT_DRIFT`` drift (a feature, missingness or the predicted-class distribution);
``EXIT_DEGRADED`` performance degradation (MCC or a class's sensitivity below the monitoring
plan's threshold; takes precedence over drift).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from medtorch.deploy import CHUNK_ROWS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory")
    parser.add_argument("--input", required=True, help="CSV or Parquet file of new data with the run's feature columns")
    parser.add_argument("--labels", default=None, help="column holding the true class of each row (enables degradation checks)")
    parser.add_argument("--time", default=None, help="date column: each calendar window is analysed too")
    parser.add_argument("--window", default=None, choices=("D", "W", "M", "Q", "Y"),
                        help="calendar window for --time (default: monitoring.window of the run's config)")
    parser.add_argument("--out", default=None, help="report folder (default RUN/monitoring/<time stamp>)")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS,
                        help="rows read at a time (memory: one chunk plus a few bytes per row per feature)")
    from medtorch.stack import settings

    settings.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from medtorch.artefacts import artefact
    from medtorch.deploy.monitor import monitor_file
    from medtorch.errors import MedtorchError
    from medtorch.stack import settings

    from medtorch.survival.checks import is_survival_run

    if args.out is not None and Path(args.out).exists() and not Path(args.out).is_dir():
        raise MedtorchError(f"--out {args.out} is a file; give a folder for the report (it is created if missing).")
    if args.out is not None:  # never over a run's evidence; a new folder under the run's own monitoring folder is fine
        from medtorch.deploy.reading import refuse_writing_into_a_run
        from medtorch.run import RunDir

        refuse_writing_into_a_run(args.out, f"--out {args.out}", allowed=RunDir(args.run).monitoring)
    if is_survival_run(args.run):  # drift and C-index degradation (medtorch/survival/monitor.py)
        from medtorch.survival.checks import refuse_ignored_options
        from medtorch.survival.monitor import monitor_survival, summary

        refuse_ignored_options(args, "monitor", **settings.defaults(), time=None, window=None, chunk_rows=CHUNK_ROWS)
        report, folder, code = monitor_survival(args.run, args.input, labels=args.labels, out=args.out)
        print(f"monitoring report: {folder / artefact('monitoring_report').file_name(ext='md')}")
        for line in summary(report):
            print(f"  {line}")
        return code
    if args.chunk_rows < 1:
        raise MedtorchError(f"--chunk-rows must be >= 1; got {args.chunk_rows}.")

    report, folder, code = monitor_file(args.run, args.input, labels=args.labels, time_column=args.time, out=args.out,
                                         window=args.window, load_options=settings.load_options(args),
                                         chunk_rows=args.chunk_rows)
    print(f"monitoring report: {folder / artefact('monitoring_report').file_name(ext='md')}")
    for line in report["summary"]:
        print(f"  {line}")
    return code
