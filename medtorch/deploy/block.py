"""Fail modes: a monitoring breach can block further predictions until someone reviews it.

The block lives in the run's hash-chained event log (``predictions_blocked`` /
``predictions_unblocked``), not in a file that could be deleted quietly: predict reads the
log, verifies its chain, and refuses while the last such event is a block.
"""

from __future__ import annotations

from typing import Any, Optional

from medtorch.audit import EventLog
from medtorch.errors import EXIT_BLOCKED, MedtorchError
from medtorch.run import RunDir

BLOCKED = "predictions_blocked"
UNBLOCKED = "predictions_unblocked"


class PredictionBlockedError(MedtorchError):
    """The run's monitoring plan blocked predictions after a breach; exit code EXIT_BLOCKED."""

    exit_code = EXIT_BLOCKED


def block_state(rd: RunDir) -> Optional[dict[str, Any]]:
    """The block event in force (its record), or None when predictions are allowed."""
    log = EventLog(rd.events)
    log.verify_chain()
    state = None
    for rec in log.records():
        if rec["action"] == BLOCKED:
            state = rec
        elif rec["action"] == UNBLOCKED:
            state = None
    return state


def require_unblocked(rd: RunDir) -> None:
    rec = block_state(rd)
    if rec is not None:
        d = rec["details"]
        raise PredictionBlockedError(
            f"predictions from run {rd.root} are blocked since {rec['time_utc']} by its monitoring plan: {d.get('reason')} "
            f"(report: {d.get('report')}). Review the report; then release the block with "
            f"`medtorch unblock {rd.root} --reason TEXT`."
        )


def block(rd: RunDir, reason: str, report: str) -> None:
    EventLog(rd.events).append(BLOCKED, {"reason": reason, "report": report})


def unblock(rd: RunDir, reason: str) -> dict[str, Any]:
    rec = block_state(rd)
    if rec is None:
        raise MedtorchError(f"predictions from run {rd.root} are not blocked; nothing to release.")
    if not reason.strip():
        raise MedtorchError("--reason must say why the block is released (the review's conclusion).")
    return EventLog(rd.events).append(UNBLOCKED, {"reason": reason, "released_block": rec["seq"],
                                                  "block_reason": rec["details"].get("reason")})
