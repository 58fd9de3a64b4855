"""``medtorch compare RUN_A RUN_B [...]``: runs side by side (stack, config, metrics, per-sample agreement).

A directory that is not a run (a Hydra multirun sweep) stands for every run under it. The
comparison is printed as Markdown; ``--out FILE.md`` also writes it, with ``FILE.json`` beside it.
Neither may lie inside a run directory (its files are the run's recorded evidence) or be a directory;
such an ``--out`` is refused (EXIT_BAD_INPUT) before anything is compared or written.
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

    if args.out:
        _refuse_out(Path(args.out))
    result = compare_runs(args.runs)
    text = to_markdown(result)
    if args.out:
        out = Path(args.out)
        write_text(out, text)
        write_json(out.with_suffix(".json"), result)
    print(text, end="")
    return EXIT_OK


def _refuse_out(out) -> None:
    """Refuse an ``--out`` whose Markdown or JSON file would land in a run directory, under a file, or on a directory."""
    from medtorch.deploy.reading import refuse_writing_into_a_run
    from medtorch.errors import MedtorchError

    refuse_writing_into_a_run(out, f"--out {out}")
    if out.is_dir():
        raise MedtorchError(f"--out {out} is a directory; give the path of a file to write (FILE.md).")
    beside = out.with_suffix(".json")
    if beside == out:
        raise MedtorchError(f"--out {out}: the comparison's JSON is written beside the Markdown with the suffix .json, "
                            "which would be this same file; give a Markdown file name (FILE.md).")
    refuse_writing_into_a_run(beside, f"{beside} (the JSON written beside --out {out})")
    if beside.is_dir():
        raise MedtorchError(f"{beside} (the JSON written beside --out {out}) is a directory; give --out another name.")
