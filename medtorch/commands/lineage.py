"""``medtorch lineage RUN [--replay] [--data FILE]``: show a run's data lineage, or replay it.

``--replay`` loads the source again with the run's recorded config (or FILE in its place),
splits it again and compares the source hash and each split's row-identity hash with
the recorded lineage; a difference exits with ``EXIT_INTEGRITY``. The replay is appended to the run's event log.
``--data FILE`` is for a source that moved: FILE must be the run's source (its sha256 recorded in the
lineage), else the replay does not match (``EXIT_INTEGRITY``, nothing replayed). A FILE that does not
exist, or ``--data`` without ``--replay``, is refused (``EXIT_BAD_INPUT``).
"""

from __future__ import annotations

import argparse

from medtorch.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory")
    parser.add_argument("--replay", action="store_true", help="reload and re-split the data; compare the split hashes")
    parser.add_argument("--data", default=None, help="with --replay: the data file to replay on (default: the recorded "
                        "path); it must be the run's source, with the sha256 the lineage recorded")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from medtorch.audit import EventLog
    from medtorch.data.lineage import replay_split
    from medtorch.errors import IntegrityError, MedtorchError
    from medtorch.evidence import Run
    from medtorch.run import RunDir

    rd = RunDir(args.run).require()
    if args.data is not None and not Path(args.data).is_file():
        raise MedtorchError(f"--data {args.data}: no such file; give the run's data file (as moved) to replay on.")
    if args.data is not None and not args.replay:
        raise MedtorchError(f"--data {args.data} is used only with --replay (the data file to replay the split on); "
                            "add --replay, or leave out --data to show the lineage.")
    run = Run.open(rd.root)  # what is shown or replayed is what the run recorded (a changed file: EXIT_INTEGRITY)
    run.read_bytes(rd.lineage)
    run.read_bytes(rd.config)  # what the replay splits with: a changed one is tampering, not a replay that failed
    if not args.replay:
        print(run.read_bytes(rd.lineage_summary).decode("utf-8"), end="")
        return EXIT_OK
    log = EventLog(rd.events)
    try:
        result = replay_split(rd.root, args.data)
    except IntegrityError as e:
        log.append("lineage_replayed", {"match": False, "data": args.data, "error": str(e)})
        raise
    log.append("lineage_replayed", {"match": True, "data": args.data, **result})
    print(f"source sha256 {result['source']['replayed'][:16]}... matches")
    for name, r in result["parts"].items():
        print(f"{name:<6} row-id hash {r['replayed'][:16]}... matches the run")
    return EXIT_OK
