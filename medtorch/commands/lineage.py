"""``medtorch lineage RUN [--replay] [--data FILE]``: show a run's data lineage, or replay it.

``--replay`` loads the source again with the run's recorded config (or FILE in its place),
splits it again and compares the source hash and each split's row-identity hash with
the recorded lineage; a difference exits with ``EXIT_INTEGRITY``. The replay is appended to the run's event log.
"""

from __future__ import annotations

import argparse

from medtorch.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run directory")
    parser.add_argument("--replay", action="store_true", help="reload and re-split the data; compare the split hashes")
    parser.add_argument("--data", default=None, help="with --replay: the data file to replay on (default: the recorded path)")


def run(args: argparse.Namespace) -> int:
    from medtorch.audit import EventLog
    from medtorch.data.lineage import replay_split
    from medtorch.errors import IntegrityError
    from medtorch.evidence import Run
    from medtorch.run import RunDir

    rd = RunDir(args.run).require()
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
