"""Acceptance quantities of a survival run: ``cindex_lower_ci >= 0.6``, ``td_auc_5y >= 0.7``, ``mcc_at_5y > 0.3``.

A quantity is a metric name, for horizon metrics followed by ``_<horizon><unit letter>`` (y, m or d
for evaluation.horizon_unit year, month or day; ``td_auc_2.5y``), optionally followed by
``_lower_ci`` or ``_upper_ci``. The criteria are frozen before training like any others; a survival
run judges them on its validation assessment (recorded as such: it is not a test-set claim).
"""

from __future__ import annotations

import math
import re
from typing import Any

OVERALL = ("cindex", "uno_cindex", "ibs")
AT_HORIZON = ("td_auc", "mcc_at", "sensitivity_at", "specificity_at", "brier_at")
UNIT_LETTER = {"year": "y", "month": "m", "day": "d"}
_Q = re.compile(r"^(?:(cindex|uno_cindex|ibs)|(td_auc|mcc_at|sensitivity_at|specificity_at|brier_at)_(\d+(?:\.\d+)?)([ymd]))"
                r"(_lower_ci|_upper_ci)?$")


def is_survival_quantity(q: str) -> bool:
    return bool(_Q.match(q))


def horizon_label(h: float, unit: str) -> str:
    return f"{h:g}{UNIT_LETTER[unit]}"


def observed_quantities(assessment: dict[str, Any], unit: str) -> dict[str, float]:
    """Every quantity the assessment can give (estimate, lower and upper CI bound)."""
    out: dict[str, float] = {}

    def put(name: str, ci: dict[str, Any] | None) -> None:
        ci = ci or {}
        for suffix, key in (("", "estimate"), ("_lower_ci", "lower"), ("_upper_ci", "upper")):
            v = ci.get(key)
            out[name + suffix] = float("nan") if v is None else float(v)

    for name in OVERALL:
        put(name, assessment["overall"].get(name))
    for h in assessment["horizons"]:
        label = horizon_label(h["horizon"], unit)
        put(f"td_auc_{label}", h["td_auc"])
        put(f"brier_at_{label}", h["brier"])
        for m in ("mcc", "sensitivity", "specificity"):
            put(f"{m}_at_{label}", h["confusion"]["ci"].get(m))
    return out


def observe(quantities: dict[str, float], q: str) -> float:
    v = quantities.get(q)
    return float("nan") if v is None or math.isnan(v) else v
