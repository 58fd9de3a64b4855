"""``medtorch unblock RUN --reason TEXT``: release a block on predictions after review (logged)."""

from __future__ import annotations

import argparse

from medtorch.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory")
    parser.add_argument("--reason", required=True, help="the review's conclusion: why predictions may resume")


def run(args: argparse.Namespace) -> int:
    from medtorch.deploy.block import unblock
    from medtorch.run import RunDir

    rd = RunDir(args.run).require()
    rec = unblock(rd, args.reason)
    print(f"predictions from {rd.root} are released (event {rec['seq']} by {rec['user']}): {args.reason}")
    return EXIT_OK
