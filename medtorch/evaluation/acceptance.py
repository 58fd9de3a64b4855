"""Acceptance criteria fixed a priori: parsed, frozen (content + hash), then judged.

A criterion is one line ``QUANTITY OP THRESHOLD`` (``mcc_lower_ci >= 0.6``). The criteria of
a run are frozen when training starts, before any look at the test set: the acceptance record
holds them with their hash, and the event log records the hash. An evaluation judges the
active criteria against what it observed; a criterion whose quantity cannot be observed
(``max_subgroup_mcc_gap`` without subgroup columns) fails, because it was not shown to hold.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from medtorch.errors import MedtorchError
from medtorch.hashing import sha256_json

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}

# quantity -> what it is (every one is computed by ``observed_quantities``)
QUANTITIES = {
    "mcc": "MCC (point estimate)",
    "mcc_lower_ci": "lower bound of the MCC confidence interval",
    "balanced_accuracy": "balanced accuracy",
    "balanced_accuracy_lower_ci": "lower bound of the balanced-accuracy CI",
    "auroc": "AUROC (macro one-vs-rest for more than two classes)",
    "auroc_lower_ci": "lower bound of the AUROC CI",
    "min_class_sensitivity": "smallest per-class sensitivity",
    "min_class_sensitivity_lower_ci": "smallest lower CI bound of a per-class sensitivity",
    "min_class_specificity": "smallest per-class specificity",
    "min_class_precision": "smallest per-class precision",
    "max_subgroup_mcc_gap": "largest MCC gap (max - min) between adequately sized groups of a subgroup column",
    "max_period_mcc_gap": "largest MCC gap (max - min) between adequately sized calendar periods",
    "max_class_ece": "largest per-class expected calibration error",
}
_LINE = re.compile(r"^\s*([a-z][a-z0-9_.]*)\s*(>=|<=|>|<)\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Criterion:
    quantity: str
    op: str
    threshold: float

    @property
    def text(self) -> str:
        return f"{self.quantity} {self.op} {self.threshold:g}"


def parse_criterion(line: str) -> Criterion:
    m = _LINE.match(str(line))
    if not m:
        raise MedtorchError(f"acceptance criterion {line!r} is not of the form 'QUANTITY OP NUMBER' "
                            f"(OP one of >=, <=, >, <), e.g. 'mcc_lower_ci >= 0.6'.")
    q, op, v = m.groups()
    if q not in QUANTITIES and not _survival_quantity(q):
        raise MedtorchError(f"acceptance criterion {line!r}: unknown quantity {q!r}; expected one of {sorted(QUANTITIES)}.")
    return Criterion(q, op, float(v))


def _survival_quantity(q: str) -> bool:
    """cindex_lower_ci, td_auc_5y, mcc_at_5y, ...: judged by task=survival runs (medtorch/survival/acceptance.py)."""
    from medtorch.survival.acceptance import is_survival_quantity

    return is_survival_quantity(q)


def criteria_problems(lines: Iterable[str]) -> list[str]:
    """Every problem with a list of criteria (for config.validate)."""
    problems = []
    for line in lines:
        try:
            parse_criterion(line)
        except MedtorchError as e:
            problems.append(str(e))
    return problems


def frozen_record(name: str, lines: Iterable[str], frozen_utc: str) -> dict[str, Any]:
    """What the acceptance record holds: the criteria, their hash, and when they were frozen."""
    criteria = [asdict(parse_criterion(x)) | {"text": parse_criterion(x).text} for x in lines]
    body = {"name": name, "criteria": criteria}
    return {**body, "sha256": sha256_json(body), "frozen_utc": frozen_utc}


def check_record(record: dict[str, Any], where: str) -> list[Criterion]:
    body = {"name": record.get("name"), "criteria": record.get("criteria")}
    if sha256_json(body) != record.get("sha256"):
        from medtorch.errors import IntegrityError

        raise IntegrityError(f"{where}: the acceptance criteria do not match their frozen hash; they were edited.")
    return [Criterion(c["quantity"], c["op"], float(c["threshold"])) for c in record["criteria"]]


def observed_quantities(assessment: dict[str, Any]) -> dict[str, float]:
    """The value of every quantity in an assessment (NaN where it cannot be observed)."""
    ci = assessment["ci"]
    pcs = ci["per_class"].values()
    nan = float("nan")

    def lowest(metric: str, key: str) -> float:
        vals = [c[metric][key] for c in pcs]
        return nan if any(v is None or math.isnan(v) for v in vals) else min(vals)

    def gap(tables: dict[str, Any]) -> float:
        gaps = [t["gaps"]["mcc_range"] for t in tables.values() if t["gaps"]["mcc_range"] is not None]
        return max(gaps) if gaps else nan

    calib = assessment.get("calibration") or {}
    eces = [c["ece"] for c in calib.get("per_class", {}).values() if c.get("ece") is not None]
    out = {
        "mcc": ci["mcc"]["estimate"], "mcc_lower_ci": ci["mcc"]["lower"],
        "balanced_accuracy": ci["balanced_accuracy"]["estimate"], "balanced_accuracy_lower_ci": ci["balanced_accuracy"]["lower"],
        "auroc": ci["auroc"]["estimate"], "auroc_lower_ci": ci["auroc"]["lower"],
        "min_class_sensitivity": lowest("sensitivity", "estimate"),
        "min_class_sensitivity_lower_ci": lowest("sensitivity", "lower"),
        "min_class_specificity": lowest("specificity", "estimate"),
        "min_class_precision": lowest("precision", "estimate"),
        "max_subgroup_mcc_gap": gap(assessment.get("subgroups") or {}),
        "max_period_mcc_gap": gap({"period": assessment["periods"]} if assessment.get("periods") else {}),
        "max_class_ece": max(eces) if eces else nan,
    }
    return {k: (nan if v is None else float(v)) for k, v in out.items()}


def judge(criteria: list[Criterion], observed: dict[str, float]) -> list[dict[str, Any]]:
    """Pass/fail of each criterion with the observed value and the margin (observed - threshold)."""
    results = []
    for c in criteria:
        value = observed[c.quantity]
        if math.isnan(value):
            results.append({"criterion": c.text, "observed": None, "margin": None, "passed": False,
                            "note": f"{c.quantity} could not be observed on this data"})
            continue
        results.append({"criterion": c.text, "observed": value, "margin": value - c.threshold,
                        "passed": bool(OPS[c.op](value, c.threshold))})
    return results
