"""``medtorch registry import LEDGER`` / ``medtorch registry verify``: the project's test-set registry.

``import`` moves an old JSONL ledger into the registry (once). ``verify`` checks the registry's
hash chain and row identities and prints its head and looks per test set; with RUN arguments it
also checks that the registry still holds every entry and look those runs saw (EXIT_INTEGRITY if not).
"""

from __future__ import annotations

import argparse

from medtorch.errors import EXIT_OK, MedtorchError

help = "the project's test-set registry: import an old JSONL ledger, or verify the registry (and runs against it)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="move a JSONL test-set ledger into the registry")
    imp.add_argument("ledger", metavar="LEDGER", help="the old ledger file (test_ledger.jsonl)")
    ver = sub.add_parser("verify", help="check the registry's chain (and that it holds what RUNs saw)")
    ver.add_argument("runs", nargs="*", metavar="RUN", help="run directories to check against the registry")
    for p in (imp, ver):
        p.add_argument("--registry", metavar="URL", default=None,
                       help="registry URL or SQLite path (default: $MEDTORCH_REGISTRY, else the per-user SQLite file)")


def run(args: argparse.Namespace) -> int:
    from medtorch.registry import location
    from medtorch.registry.store import Registry

    where = location.resolve(args.registry)
    if args.action == "import":
        from medtorch.registry.importer import import_ledger, read_ledger

        lines = read_ledger(args.ledger)  # a file that is no ledger is refused before a registry is opened
        out = import_ledger(args.ledger, Registry(where.url), lines)
        print(f"imported {out['looks']} look(s) from {args.ledger} into {out['registry']} ({out['entries']} entries now)")
        return EXIT_OK
    from medtorch.audit import EventLog
    from medtorch.registry import binding
    from medtorch.run import RunDir, not_a_directory, read_json

    reg = Registry(where.url, create=False)  # verify only reads: it never creates a registry
    with reg.transaction() as tx:
        head, entries = tx.verify()
        for run_dir in args.runs:
            rd = RunDir(run_dir)
            if not rd.root.is_dir():
                raise MedtorchError(not_a_directory(rd.root))
            if not rd.manifest.is_file():
                raise MedtorchError(f"{run_dir}: no {rd.manifest.name}; not a medtorch run directory.")
            manifest = read_json(rd.manifest)
            opened = binding.Opened(reg, where, manifest.get("registry"),
                                    None if (manifest.get("registry") or {}).get("url") == reg.public_url else {"used": reg.public_url})
            binding.check_continuity(opened, head, entries, manifest, EventLog(rd.events).records())
    looks = [e for e in entries if e["kind"] in binding.LOOK_KINDS]
    print(f"registry {reg.public_url} ({where.source}): id {head.registry_id}, {head.entries} entries, chain intact, "
          f"head {head.hash[:16]}...")
    by_set: dict[str, list] = {}
    for e in looks:
        by_set.setdefault(e["test_set"], []).append(e)
    for sha, ls in by_set.items():
        roles = ", ".join(f"{e['details']['look_on_test_set']}:{'H' if e['details']['role'].startswith('hold') else 'S'}" for e in ls)
        print(f"  test set {str(sha)[:12]}...: {len(ls)} look(s) (look:role, H hold-out, S second-stage) {roles}")
    for run_dir in args.runs:
        print(f"  {run_dir}: every entry and look it saw is present")
    return EXIT_OK
