"""``medtorch train [+experiment=NAME] [key=value ...]``: train.py as a verb, from any directory.

Everything after ``train`` goes to Hydra unchanged (overrides, ``-m`` for a multirun,
``--cfg job``, ``--help``), so ``medtorch cli`` never imports Hydra or torch for other verbs.
"""

from __future__ import annotations

import argparse

from medtorch.errors import EXIT_OK

help = "train a model: medtorch train [+experiment=NAME] [key=value ...] (Hydra overrides, as python train.py)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs=argparse.REMAINDER, help="Hydra overrides, e.g. +experiment=logistic_baseline")


def run(args: argparse.Namespace) -> int:
    from medtorch.launch import main

    main(list(args.overrides), prog="medtorch train")
    return EXIT_OK
