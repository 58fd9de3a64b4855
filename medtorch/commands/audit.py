"""``medtorch audit verify RUN``: check a run's event log and every artefact it records.

Exits with ``EXIT_OK`` when the hash chain is intact, its head matches, and every file the log or
the manifest records still has its recorded sha256; with ``EXIT_INTEGRITY`` (``IntegrityError``)
listing each problem otherwise, the first altered line or changed file first. Files no event records are
listed in their own section, and are problems where evidence lives (checkpoints/, the model,
explanations, evaluations). With ``--head HASH`` (the full hash recorded at hand-over) it also
lists every event after the head and refuses write-once artefacts re-recorded after it
(``medtorch.handover``).
"""

from __future__ import annotations

import argparse
import json

from medtorch.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    v = sub.add_parser("verify", help="recompute the event log's hash chain and every recorded artefact's hash")
    v.add_argument("run", help="run directory")
    v.add_argument("--head", metavar="HASH",
                   help="the full hash of the log's last line as recorded at hand-over (e.g. by QA); fails unless the "
                        "log still contains this line and no write-once artefact was re-recorded after it; lists the "
                        "events after it")
    v.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from medtorch.errors import IntegrityError
    from medtorch.handover import check_head_format
    from medtorch.integrity import verify_run

    if args.head:
        check_head_format(args.head)  # an abbreviated hash: "give the full hash" (EXIT_BAD_INPUT)
    v = verify_run(args.run, head=args.head)
    ah = v.after_head
    if args.json:
        print(json.dumps({"run": v.run, "ok": v.ok, "events": v.events, "head_hash": v.head_hash,
                          "files": {k: r.sha256 for k, r in v.files.items()}, "problems": v.problems,
                          "unrecorded": v.unrecorded, "outside_evidence": v.outside_evidence, "external": v.external,
                          "after_head": None if ah is None else {"head": ah.head, "line": ah.head_line,
                                                                 "events": ah.events_after,
                                                                 "changed": ah.changed, "new_versions": ah.new_versions}},
                         indent=2))
        return EXIT_OK if v.ok else IntegrityError.exit_code
    _print_after_head(ah)
    _print_unrecorded(v)
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
    if v.external:
        print(f"named by the log but outside the run (not checked): {', '.join(v.external)}")
    return EXIT_OK


def _print_after_head(ah) -> None:
    if ah is None or ah.head_line is None:
        return
    print(f"events after the head (line {ah.head_line}): {len(ah.events_after)}")
    for e in ah.events_after:
        print(f"  line {e['line']:<4} {e['time_utc']}  {e['action']:<28} {e['user']}@{e['host']}")
    for line in ah.new_versions:
        print(f"  new version of a versioned artefact: {line}")


def _print_unrecorded(v) -> None:
    if v.unrecorded:
        print(f"files no event records ({len(v.unrecorded)}; not covered by the audit trail):")
        for name in v.unrecorded:
            print(f"  {name}")
    if v.outside_evidence:
        print(f"outside the evidence by declaration (job and logger logs, not hashed): {', '.join(v.outside_evidence)}")
