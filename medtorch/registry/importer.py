"""``medtorch registry import LEDGER``: move an old JSONL test-set ledger into the registry.

The ledger's hash chain is verified first (an edited ledger is refused, EXIT_INTEGRITY); then each of
its looks becomes one ``imported_look`` entry with the ledger line's details, time, user and
host, in one transaction (all or nothing). The ledger held no row identities, so imported test
sets take part in the development and same-look rules, not in the row-identity checks. A
ledger imported twice is refused: its head hash is recorded with the import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medtorch.errors import MedtorchError
from medtorch.registry.store import Registry


def import_ledger(path: str | Path, reg: Registry) -> dict[str, Any]:
    from medtorch.audit import EventLog

    path = Path(path)
    if not path.is_file():
        raise MedtorchError(f"registry import: ledger {path} not found; expected the JSONL file written by "
                            "'medtorch evaluate --ledger' (default ./test_ledger.jsonl).")
    log = EventLog(path)
    log.verify_chain()  # an edited ledger is refused (EXIT_INTEGRITY)
    lines = [r for r in log.records() if r.get("action") == "test_look"]
    head = lines[-1]["hash"] if lines else None
    with reg.transaction() as tx:
        _, entries = tx.verify()
        if any(e["kind"] == "ledger_imported" and e["details"]["head_hash"] == head for e in entries):
            raise MedtorchError(f"registry import: {path} (head {str(head)[:12]}...) was already imported into {reg.public_url}.")
        for r in lines:
            d = r["details"]
            tx.append("imported_look", {**d, "imported_from": str(path.resolve()), "ledger_user": r.get("user"),
                                        "ledger_host": r.get("host"), "ledger_hash": r["hash"]},
                      run_id=d.get("run_id"), test_set=(d.get("test_set") or {}).get("sha256"), time_utc=r.get("time_utc"))
        tx.append("ledger_imported", {"path": str(path.resolve()), "looks": len(lines), "head_hash": head})
        new_head, _ = tx.verify()
    return {"looks": len(lines), "registry": reg.public_url, "entries": new_head.entries}
