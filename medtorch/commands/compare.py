"""``medtorch compare RUN_A RUN_B [...]``: runs side by side (stack, config, metrics, per-sample agreement).

A directory that is not a run (a Hydra multirun sweep) stands for every run under it. The
comparison is printed as Markdown; ``--out FILE.md`` also writes it, with ``FILE.json`` beside it.
"""

from __future__ import annotations

import argparse

from medtorch.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run directories (or a multirun directory); the first is the baseline")
    parser.add_argument("--out", metavar="FILE.md", default=None, help="also write the comparison here (and FILE.json)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from medtorch.run import write_json, write_text
    from medtorch.stack.compare import compare_runs
    from medtorch.stack.compare_markdown import to_markdown

    result = compare_runs(args.runs)
    text = to_markdown(result)
    if args.out:
        out = Path(args.out)
        write_text(out, text)
        write_json(out.with_suffix(".json"), result)
    print(text, end="")
    return EXIT_OK
