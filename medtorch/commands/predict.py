"""``medtorch predict RUN --input FILE --output FILE``: spec-checked predictions (no Lightning)."""

from __future__ import annotations

import argparse

from medtorch.deploy import CHUNK_ROWS
from medtorch.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory")
    parser.add_argument("--input", required=True, help="CSV or Parquet file with the run's feature columns")
    parser.add_argument("--output", required=True, help="CSV file to write: per-row class probabilities and predicted class")
    parser.add_argument("--on-invalid", default="refuse", choices=("refuse", "quarantine"),
                        help="refuse (default): any violation of the data specification refuses the whole input; "
                             "quarantine: predict the valid rows, write the rejected rows with their reasons aside")
    parser.add_argument("--rejected", default=None, help="with quarantine: file for rejected rows (default: the output's name with .rejected.csv for its suffix, e.g. out.csv -> out.rejected.csv)")
    parser.add_argument("--violations", default=None, help="CSV file listing every violation (column, row, value, rule)")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="rows read, checked and predicted at a time")
    from medtorch.stack import settings

    settings.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from medtorch.deploy.predict import predict_file
    from medtorch.stack import settings
    from medtorch.errors import MedtorchError

    from medtorch.survival.checks import is_survival_run

    if is_survival_run(args.run):  # risk scores and S(t) at the horizons (medtorch/survival/predict.py)
        from medtorch.survival.checks import refuse_ignored_options
        from medtorch.survival.predict import predict_survival_file

        refuse_ignored_options(args, "predict", **settings.defaults(), on_invalid="refuse", rejected=None, violations=None, chunk_rows=CHUNK_ROWS)
        s = predict_survival_file(args.run, args.input, args.output)
        print(f"predicted {s['rows']} row(s) -> {s['output']} (risk score, survival at {s['horizons']} {s['horizon_unit']}s)")
        return EXIT_OK
    if args.chunk_rows < 1:
        raise MedtorchError(f"--chunk-rows must be >= 1; got {args.chunk_rows}.")
    s = predict_file(args.run, args.input, args.output, on_invalid=args.on_invalid, rejected_path=args.rejected,
                     violations_path=args.violations, chunk_rows=args.chunk_rows, load_options=settings.load_options(args))
    print(f"predicted {s.predicted} of {s.rows} row(s) -> {s.output}")
    if s.rejected_output:
        print(f"rejected {s.rejected} row(s) ({s.violations} violation(s)) -> {s.rejected_output}")
    print(f"run {s.run_id}  data spec sha256 {s.spec_sha256[:16]}...  stack {s.stack_fingerprint[:16]}...  {s.seconds:.2f} s")
    return EXIT_OK
