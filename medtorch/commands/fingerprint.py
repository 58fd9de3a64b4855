"""``medtorch fingerprint [--diff RUN]``: the stack fingerprint of this machine, or how it differs from a run's.

With ``--diff RUN`` the run's numeric settings (deterministic algorithms, matmul precision,
threads) are put in force first, with ``--threads/--dtype/--device`` on top, so the diff shows
exactly what a bridge re-evaluation of that run on this stack would see.
"""

from __future__ import annotations

import argparse
import json

from medtorch.errors import EXIT_OK
from medtorch.stack import settings as stack_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--diff", metavar="RUN", default=None, help="show what differs from this run's stack")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    stack_settings.add_arguments(parser, override=False)


def run(args: argparse.Namespace) -> int:
    from medtorch.stack import fingerprint

    config: dict = {}
    run_stack = None
    if args.diff:
        from omegaconf import OmegaConf

        from medtorch.errors import MedtorchError
        from medtorch.evidence import Run
        from medtorch.run import RunDir

        rd = RunDir(args.diff).require()
        run = Run.open(rd.root)  # the manifest and config as the run recorded them (a changed one: EXIT_INTEGRITY)
        manifest = run.read_json(rd.manifest)
        config = OmegaConf.to_container(OmegaConf.create(run.read_bytes(rd.config).decode("utf-8")), resolve=True)
        run_stack = manifest.get("stack")
        if not run_stack:
            raise MedtorchError(f"{rd.manifest}: the run recorded no stack fingerprint (it predates medtorch.stack).")
    current = stack_settings.apply(config, stack_settings.from_args(args))
    if not args.diff:
        print(json.dumps(current, indent=2) if args.json else fingerprint.format_fingerprint(current))
        return EXIT_OK
    changes = fingerprint.diff(run_stack, current)
    same = run_stack.get("hash") == current["hash"]
    if args.json:
        print(json.dumps({"run": run_stack.get("hash"), "current": current["hash"], "same_hash": same,
                          "changes": changes}, indent=2))
        return EXIT_OK
    print(f"run stack:     {run_stack.get('hash')}")
    print(f"this stack:    {current['hash']}")
    print("same stack hash: no bridge needed" if same else "stack hash differs: loading the run's model here runs "
          "the bridge re-evaluation first (medtorch bridge RUN)")
    print(fingerprint.format_diff(changes, "run", "this stack"))
    return EXIT_OK
