"""The automatic bridge: no model is used on a stack that has not passed a bridge re-evaluation.

``ensure_bridged`` is called by ``medtorch.loading.load_run`` for every load that will compute
predictions. On the stack the reference was computed on, nothing is needed. On any other
stack, a passed bridge on record for that stack's fingerprint hash is enough (its report is
checked against the hash the event log recorded). Otherwise the bridge runs first; if it
fails, the load is refused unless the caller gives an override with a reason, which is
recorded in the event log. Every refusal or override names the report to read.
"""

from __future__ import annotations

import sys
from typing import Any

from medtorch.audit import EventLog
from medtorch.errors import EXIT_BRIDGE_FAILED, IntegrityError, MedtorchError
from medtorch.hashing import sha256_file


class BridgeFailedError(MedtorchError):
    """The bridge re-evaluation on this stack failed (``EXIT_BRIDGE_FAILED``)."""

    exit_code = EXIT_BRIDGE_FAILED


def passed_on_record(rd, stack_hash: str) -> dict[str, Any] | None:
    """The latest ``bridge_evaluated`` event for ``stack_hash`` if it passed and its report is intact."""
    log = EventLog(rd.events)
    log.verify_chain()
    for rec in reversed(log.records()):
        if rec["action"] != "bridge_evaluated" or rec["details"].get("stack_hash") != stack_hash:
            continue
        if not rec["details"].get("passed"):
            return None
        for name, digest in rec["outputs"].items():
            path = rd.root / name
            if not path.is_file() or sha256_file(path) != digest:
                raise IntegrityError(f"{path}: the bridge report recorded in the event log (line {rec['seq'] + 1}) "
                                     "is missing or was changed; run `medtorch bridge` again on this stack.")
        return rec
    return None


def _override(loaded, purpose: str, reason: str | None, why: str) -> dict[str, Any]:
    if reason is None or not reason.strip():
        raise BridgeFailedError(why + " To go on anyway, give an override with a reason "
                                "(e.g. --override-bridge \"REASON\"); it is recorded in the run's event log.")
    EventLog(loaded.rd.events).append("bridge_overridden", {"stack_hash": loaded.stack["hash"], "purpose": purpose,
                                                            "reason": reason.strip(), "why": why})
    print(f"medtorch: WARNING: {why} Going on because of the override: {reason.strip()!r} (recorded).",
          file=sys.stderr, flush=True)
    return {"status": "overridden", "stack_hash": loaded.stack["hash"], "reason": reason.strip()}


def ensure_bridged(loaded, purpose: str, override_reason: str | None = None) -> dict[str, Any]:
    """Make sure ``loaded`` may be used on this stack; return how (recorded in ``loaded.bridge``)."""
    from medtorch.stack.bridge import run_bridge, summary

    here = loaded.stack["hash"]
    reference_hash = (loaded.manifest.get("stack") or {}).get("hash")
    if here == reference_hash:
        return {"status": "reference_stack", "stack_hash": here}
    record = passed_on_record(loaded.rd, here)
    if record is not None:
        return {"status": "passed_on_record", "stack_hash": here, "event": record["seq"]}
    if not loaded.rd.bridge_reference.is_file():
        return _override(loaded, purpose, override_reason,
                         f"{loaded.rd.root}: this stack ({here[:16]}) differs from the run's, and the run has no "
                         "bridge reference to re-evaluate on.")
    print(f"medtorch: this stack ({here[:16]}) differs from the run's ({(reference_hash or 'unknown')[:16]}) and has "
          f"no passed bridge on record; running the bridge re-evaluation before {purpose}.", file=sys.stderr, flush=True)
    report = run_bridge(loaded, purpose=f"automatic, before {purpose}")
    print(summary(report, loaded.rd), file=sys.stderr, flush=True)
    if report.passed:
        return {"status": "passed_now", "stack_hash": here}
    failed = ", ".join(c["measure"] for c in report.result["checks"] if not c["passed"])
    return _override(loaded, purpose, override_reason,
                     f"the bridge re-evaluation on this stack ({here[:16]}) failed ({failed}); see "
                     f"{loaded.rd.bridge_report(here, 'md')}. The model's predictions on this stack differ from its "
                     "reference beyond the run's tolerances (bridge.* in its config).")
