"""``medtorch audit verify RUN``: check a run's event log and every artefact it records.

Exit 0 when the hash chain is intact, its head matches, and every file the log or the
manifest records still has its recorded sha256; exit 3 (``IntegrityError``) listing each
problem otherwise, the first altered line or changed file first.
"""

from __future__ import annotations

from medtorch.errors import EXIT_OK

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    v = sub.add_parser("verify", help="recompute the event log's hash chain and every recorded artefact's hash")
    v.add_argument("run", help="run directory")
    v.add_argument("--head", metavar="HASH",
                   help="the log's head hash as recorded elsewhere (e.g. by QA at hand-over); "
                        "fails unless the log still contains this line")
    v.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from medtorch.errors import IntegrityError
    from medtorch.integrity import verify_run

    v = verify_run(args.run)
    if args.head and not v.problems:
        from medtorch.audit import EventLog
        from medtorch.run import RunDir

        if not any(r["hash"] == args.head for r in EventLog(RunDir(args.run).events).records()):
            v.problems.append(f"the log contains no line with hash {args.head[:16]}...; "
                              "the log was rewritten after that head was recorded.")
    if args.json:
        print(json.dumps({"run": v.run, "ok": v.ok, "events": v.events, "head_hash": v.head_hash,
                          "files": {k: r.sha256 for k, r in v.files.items()}, "problems": v.problems,
                          "unrecorded": v.unrecorded, "external": v.external}, indent=2))
        return EXIT_OK if v.ok else IntegrityError.exit_code
    if v.problems:
        raise IntegrityError(f"{v.run}: the audit trail does not match the run ({len(v.problems)} problem(s)):\n  - "
                             + "\n  - ".join(v.problems)
                             + "\nRestore the original files (or the log) from the run's archive; until then the run "
                               "cannot be used as evidence.")
    print(f"OK  {v.run}")
    print(f"event log: {v.events} events, hash chain intact, head {v.head_hash}")
    print(f"artefacts: {len(v.files)} files match their recorded sha256")
    for name, rec in sorted(v.files.items()):
        print(f"  {name:<40} {rec.sha256[:16]}...  recorded at {rec.where}")
    if v.unrecorded:
        print(f"not recorded (not covered by the audit trail): {', '.join(v.unrecorded)}")
    if v.external:
        print(f"named by the log but outside the run (not checked): {', '.join(v.external)}")
    return EXIT_OK
