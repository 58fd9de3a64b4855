"""``medtorch cv-summary PARENT``: summarise cross-validation folds that ran as separate jobs."""

from __future__ import annotations

import argparse

from medtorch.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("parent", help="directory holding the fold runs (e.g. a multirun directory of cv.fold=0,...,K-1)")


def run(args: argparse.Namespace) -> int:
    from medtorch.evaluation.crossval import summarize

    summarize(args.parent)
    return EXIT_OK
