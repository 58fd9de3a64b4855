"""The role of each of a run's looks now: the run's own looks, with demotions from the registry applied.

Used by ``medtorch show`` and the report, so every output gives one role per test set once it
is demoted (an earlier hold-out look reads "hold-out at the time, superseded by look N"). The
run's bound registry is consulted when it can be reached (another run may have demoted the
test set since); otherwise the roles as of the run's last look (``artefact("test_roles")``) are used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medtorch.registry.roles import demotions, display
from medtorch.run import RunDir, read_json


def current_roles(rd: RunDir, manifest: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """``(roles per look, where the demotions came from)``."""
    evals = sorted((read_json(p) for p in rd.test_evaluation_files), key=lambda e: e["evaluation"])
    if not evals:
        return [], "no look"
    demoted = demotions(evals)
    source = "this run's looks"
    bound = manifest.get("registry")
    sqlite_file = bound and bound["url"].startswith("sqlite:///") and bound["url"][len("sqlite:///"):]
    if sqlite_file and not Path(sqlite_file).is_file():
        return display(evals, demoted), f"this run's looks (registry {bound['url']} not found)"
    if bound:
        try:
            from medtorch.registry import binding
            from medtorch.registry.store import Registry

            reg = Registry(bound["url"])
            with reg.transaction() as tx:
                head, entries = tx.verify()
            if head.registry_id == bound["registry_id"]:
                for sha, n in demotions([e for e in entries if e["kind"] in binding.LOOK_KINDS]).items():
                    demoted[sha] = min(demoted.get(sha, n), n)
                source = f"registry {reg.public_url} ({head.entries} entries)"
        except Exception as e:  # an unreachable registry leaves the roles as of the run's last look
            source = f"this run's looks (registry {bound['url']} not consulted: {type(e).__name__})"
    return display(evals, demoted), source
