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


def read_ledger(path: str | Path) -> list[dict[str, Any]]:
    """The ledger's test looks, once its chain checks out; a file that is not a ledger, or holds no look, is refused
    (EXIT_BAD_INPUT) before any registry is opened."""
    import json

    from medtorch.audit import EventLog

    path = Path(path)
    if not path.is_file():
        raise MedtorchError(f"registry import: ledger {path} not found; expected the JSONL file written by "
                            "'medtorch evaluate --ledger' (default ./test_ledger.jsonl).")
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        try:
            record = json.loads(line.decode("utf-8")) if line.strip() else {}
        except (UnicodeDecodeError, ValueError) as e:
            raise MedtorchError(f"registry import: {path} line {number} is not a JSON line ({e}); "
                                "not a test-set ledger.") from None
        if not isinstance(record, dict):
            raise MedtorchError(f"registry import: {path} line {number} is a JSON {type(record).__name__}, not a "
                                "ledger record (an object); not a test-set ledger.")
    log = EventLog(path)
    log.verify_chain()  # an edited ledger is refused (EXIT_INTEGRITY)
    lines = [r for r in log.records() if r.get("action") == "test_look"]
    if not lines:
        raise MedtorchError(f"registry import: {path} holds no test look (a ledger truncated to nothing, or another "
                            "file); nothing was imported.")
    return lines


def import_ledger(path: str | Path, reg: Registry, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    path = Path(path)
    lines = read_ledger(path) if lines is None else lines
    head = lines[-1]["hash"]
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
