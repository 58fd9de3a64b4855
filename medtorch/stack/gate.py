"""The automatic bridge: no model is used on a stack that has not passed a bridge re-evaluation.

A verb that uses a model on this stack (predict, evaluate, explain, monitor) asks for it
explicitly with ``require_bridged_stack``: the run is loaded and verified
(``medtorch.loading.load_run``, which has no side effects), put on this stack
(``put_on_stack``: the run's numeric settings and the inference settings in force, the stack
fingerprinted, the network moved to the inference dtype and device), and ``ensure_bridged``
clears the stack. On the stack the reference was computed on, nothing is needed. On any other
stack, a passed bridge on record for that stack's fingerprint hash is enough (its report is
checked against the hash the event log recorded). Otherwise the bridge runs first; if it
fails, the load is refused unless the caller gives an override with a reason, which is
recorded in the event log. Every refusal or override names the report to read.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medtorch.audit import EventLog
from medtorch.errors import EXIT_BRIDGE_FAILED, IntegrityError, MedtorchError
from medtorch.hashing import sha256_file
from medtorch.loading import LoadedRun, load_run

if TYPE_CHECKING:
    from medtorch.stack.settings import InferenceSettings

# the verbs that compute predictions with a run's model, each on a bridged stack only
VERBS = ("predict", "evaluate", "explain", "monitor")


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


def ensure_bridged(loaded: LoadedRun, purpose: str, override_reason: str | None = None) -> dict[str, Any]:
    """Make sure ``loaded`` (put on this stack) may be used here; return how (recorded in ``loaded.bridge``)."""
    from medtorch.stack import reference
    from medtorch.stack.bridge import run_bridge, summary

    # a recorded bridge set that is missing is refused on every stack, before any override is considered
    has_reference = reference.exists(loaded.rd, loaded.manifest)
    here = loaded.stack["hash"]
    reference_hash = (loaded.manifest.get("stack") or {}).get("hash")
    if here == reference_hash:
        return {"status": "reference_stack", "stack_hash": here}
    record = passed_on_record(loaded.rd, here)
    if record is not None:
        return {"status": "passed_on_record", "stack_hash": here, "event": record["seq"]}
    if not has_reference:
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


def put_on_stack(loaded: LoadedRun, settings: "InferenceSettings | None" = None) -> LoadedRun:
    """Put the run's numeric settings and ``settings`` (default: the run's own) in force; fingerprint the stack.

    The network is moved to the inference dtype and device. ``loaded`` is returned, with
    ``settings`` and ``stack`` filled in; no bridge is run (the bridge verb itself uses this).
    """
    import torch

    from medtorch.stack import settings as stack_settings

    loaded.settings = settings or stack_settings.InferenceSettings()
    loaded.stack = stack_settings.apply(loaded.config, loaded.settings)
    loaded.network = loaded.network.to(device=loaded.settings.device, dtype=getattr(torch, loaded.settings.dtype))
    return loaded


def require_bridged_stack(run: str | Path | LoadedRun, purpose: str, *, settings: "InferenceSettings | None" = None,
                          override_reason: str | None = None) -> LoadedRun:
    """The run (a directory, loaded and verified here, or a ``LoadedRun``) on this stack, cleared by a bridge.

    ``purpose`` (predict, evaluate, explain, monitor) is recorded by an automatic bridge.
    On an unbridged stack the bridge runs first; if it fails, the run is refused
    (``BridgeFailedError``) unless ``override_reason`` is given, which is recorded.
    """
    if purpose not in VERBS:
        raise MedtorchError(f"require_bridged_stack: purpose must be one of {VERBS}; got {purpose!r}.")
    loaded = put_on_stack(run if isinstance(run, LoadedRun) else load_run(run), settings)
    loaded.bridge = ensure_bridged(loaded, purpose, override_reason)
    return loaded
