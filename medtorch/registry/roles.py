"""The role of a test set at a look, and the one role every output shows afterwards.

A test set keeps the role *hold-out test set* while every look at it was made for the same
development. It becomes a *second-stage validation set*, for that look and every later one,
when

- an earlier look was made for a different development (config, code or data hash), so the
  test set has informed development (a family look, below, counts once for the family);
- the model's development data held rows of it that had been looked at before the model was
  trained (recorded at training, ``development_saw``);
- its rows are the same cases as rows of another test set that was looked at (row identity,
  judged same case or coincidence), or
- it already was one.

A *family look*: the members of one multirun (``-m seed=1,2,3 evaluation.test_look=true``) that
look at one test set at the end of training. Their looks are judged against the looks outside
the family only, so each member gets the same role whichever job finishes first, and the
family's first look is hold-out for the family as a whole (reported as a distribution). A later
look by one member (picking it) differs in development from its siblings' looks: second-stage.

Once a test set is demoted, every output shows every look on it as second-stage; an earlier
hold-out look as "hold-out at the time, superseded by look N".
"""

from __future__ import annotations

from typing import Any

import numpy as np

HOLD_OUT = "hold-out test set"
SECOND_STAGE = "second-stage validation set"


def decide_role(prior: list[dict[str, Any]], fingerprint: dict[str, str], family: str | None = None,
                saw: list[dict[str, Any]] | None = None, test_set: str | None = None,
                shared: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Role for a new look, given the earlier looks at the same test set (``[{'details': {...}}]``).

    ``saw``: looked-at test sets the model's development data held rows of; ``shared``: other
    looked-at test sets whose rows are the same cases as this one's.
    """
    for s in saw or []:
        if s["test_set"] == test_set:
            return {"role": SECOND_STAGE, "reason": f"the model's development data held {s['rows']} looked-at row(s) of "
                                                    "this test set (recorded when it was trained)"}
    outside = [p for p in prior if not (family and p["details"].get("family") == family)]
    for look in outside:
        d = look["details"]
        if d["role"] == SECOND_STAGE:
            return {"role": SECOND_STAGE, "reason": f"already a second-stage validation set since look {d['look_on_test_set']}"}
        theirs = d["development"]
        if theirs["sha256"] != fingerprint["sha256"]:
            changed = [k.removesuffix("_sha256") for k in ("config_sha256", "code_sha256", "data_sha256") if theirs[k] != fingerprint[k]]
            fam = " of a multirun family; picking one member after the family look is development" if d.get("family") else ""
            return {"role": SECOND_STAGE,
                    "reason": f"look {d['look_on_test_set']} (run {d['run_id'][:8]}{fam}) was made for a different development "
                              f"({', '.join(changed)} changed); this test set has informed development"}
    for s in shared or []:
        return {"role": SECOND_STAGE, "reason": f"{s['rows']} of its {s['of']} rows were already looked at as test set "
                                                f"{s['test_set'][:12]}... ({s['reason']})"}
    if family and len(outside) < len(prior):
        return {"role": HOLD_OUT, "reason": f"family look: {len(prior) - len(outside)} other member(s) of this multirun "
                                            "looked at it too; hold-out for the family as a whole"}
    if family:
        return {"role": HOLD_OUT, "reason": "first look (family look of a multirun)" if not outside
                else f"family look; every earlier look ({len(outside)}) was for the same development"}
    return {"role": HOLD_OUT, "reason": "first look" if not prior else f"every earlier look ({len(prior)}) was for the same development"}


def family_distribution(prior: list[dict[str, Any]], family: str, mcc: float) -> dict[str, Any]:
    """MCC over the members of a family that looked at one test set so far (this look included)."""
    values = [p["details"]["mcc"]["estimate"] for p in prior if p["details"].get("family") == family] + [mcc]
    v = np.asarray([x for x in values if x is not None], dtype=float)
    return {"members": len(values), "mcc_mean": float(v.mean()) if len(v) else None,
            "mcc_sd": float(v.std(ddof=1)) if len(v) > 1 else None,
            "mcc_min": float(v.min()) if len(v) else None, "mcc_max": float(v.max()) if len(v) else None}


def display(evaluations: list[dict[str, Any]], demoted_at: dict[str, int]) -> list[dict[str, Any]]:
    """One role per look of a run: ``demoted_at`` maps a test set to the look number that demoted it."""
    out = []
    for ev in evaluations:
        sha, n = ev["test_set"]["sha256"], ev["look_on_test_set"]
        first = demoted_at.get(sha)
        if ev["role"] == SECOND_STAGE:
            first = n if first is None else min(first, n)
        if first is None:
            role, note = HOLD_OUT, ev["role_reason"]
        elif ev["role"] == SECOND_STAGE:
            role, note = SECOND_STAGE, ev["role_reason"]
        else:
            role, note = SECOND_STAGE, f"hold-out at the time, superseded by look {first}"
        over = (ev.get("registry") or {}).get("override")
        out.append({"evaluation": ev["evaluation"], "test_set": sha, "look_on_test_set": n, "role_at_the_time": ev["role"],
                    "role": role, "note": note, "registry_override": over["used"] if over else None})
    return out


def demotions(looks: list[dict[str, Any]]) -> dict[str, int]:
    """``{test_set: look number of its first second-stage look}`` from looks (registry entries or evaluations)."""
    out: dict[str, int] = {}
    for lk in looks:
        d = lk.get("details", lk)
        sha = d["test_set"]["sha256"] if isinstance(d.get("test_set"), dict) else lk.get("test_set")
        if d.get("role") == SECOND_STAGE and sha:
            out[sha] = min(out.get(sha, 10**9), int(d["look_on_test_set"]))
    return out


def summary(roles: list[dict[str, Any]]) -> str:
    """One line: the role of each test set a run looked at, as of now."""
    parts, seen = [], set()
    for r in reversed(roles):  # the latest look of each test set carries its current role
        if r["test_set"] in seen:
            continue
        seen.add(r["test_set"])
        looks = [x["evaluation"] for x in roles if x["test_set"] == r["test_set"]]
        parts.append(f"test set {r['test_set'][:12]}: {r['role']} (evaluations {', '.join(map(str, looks))})")
    return "; ".join(reversed(parts))
