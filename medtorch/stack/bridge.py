"""Bridge re-evaluation: re-run preprocessing and inference on the bridge set, compare per sample and class.

``compare`` is pure arithmetic on two probability matrices; ``run_bridge`` runs a loaded model
on the stored raw rows on the current stack, checks every measure against the run's
tolerances (``bridge`` in its config), writes ``bridge/report_<stack hash>.json`` and ``.md``
and appends one ``bridge_evaluated`` line to the event log.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np

from medtorch.config import BridgeConfig
from medtorch.evaluation.metrics import classification_metrics

# measure -> (tolerance key in BridgeConfig, what it is)
CHECKS = {
    "max_abs_prob_diff": ("max_abs_prob_diff", "largest absolute probability difference (any row, any class)"),
    "mean_abs_prob_diff": ("mean_abs_prob_diff", "mean absolute probability difference"),
    "flip_rate": ("max_flip_rate", "share of rows whose predicted class changed"),
    "max_class_flip_rate": ("max_class_flip_rate", "largest flip rate among the rows of one true class"),
    "mcc_delta": ("max_mcc_delta", "absolute change of MCC"),
    "max_sensitivity_delta": ("max_sensitivity_delta", "largest absolute change of a class's sensitivity"),
    "max_specificity_delta": ("max_specificity_delta", "largest absolute change of a class's specificity"),
}


def _delta(a: float | None, b: float | None) -> float:
    """|b - a|, where undefined on both sides is no change and undefined on one side is infinite."""
    na = a is None or (isinstance(a, float) and math.isnan(a))
    nb = b is None or (isinstance(b, float) and math.isnan(b))
    if na and nb:
        return 0.0
    return math.inf if na or nb else abs(float(b) - float(a))


def tolerances(config: Mapping[str, Any]) -> dict[str, float]:
    """The run's bridge tolerances (defaults for keys its config does not set)."""
    merged = {**asdict(BridgeConfig()), **dict(config.get("bridge") or {})}
    return {k: float(v) for k, v in merged.items() if k.startswith(("max_", "mean_"))}


def compare(ref_probs: np.ndarray, new_probs: np.ndarray, labels: np.ndarray, classes: list[str],
            ref_metrics: Mapping[str, Any], row_ids: np.ndarray, tol: Mapping[str, float]) -> dict[str, Any]:
    """Every bridge measure, the per-class table, the checks and the rows that moved most."""
    if ref_probs.shape != new_probs.shape:
        raise ValueError(f"reference probabilities have shape {ref_probs.shape}, new ones {new_probs.shape}")
    diff = np.abs(new_probs - ref_probs)
    ref_pred, new_pred = ref_probs.argmax(axis=1), new_probs.argmax(axis=1)
    flipped = ref_pred != new_pred
    new_metrics = classification_metrics(labels, new_probs, classes)
    per_class = {}
    for j, name in enumerate(classes):
        rows = labels == j
        r, n = ref_metrics["per_class"][name], new_metrics["per_class"][name]
        per_class[name] = {
            "rows": int(rows.sum()),
            "flips": int(flipped[rows].sum()),
            "flip_rate": float(flipped[rows].mean()) if rows.any() else 0.0,
            "max_abs_prob_diff": float(diff[:, j].max()) if len(diff) else 0.0,
            "sensitivity": [r["sensitivity"], n["sensitivity"]],
            "specificity": [r["specificity"], n["specificity"]],
            "sensitivity_delta": _delta(r["sensitivity"], n["sensitivity"]),
            "specificity_delta": _delta(r["specificity"], n["specificity"]),
        }
    n = len(labels)
    measures = {
        "max_abs_prob_diff": float(diff.max()) if n else 0.0,
        "mean_abs_prob_diff": float(diff.mean()) if n else 0.0,
        "flip_rate": float(flipped.mean()) if n else 0.0,
        "max_class_flip_rate": max((c["flip_rate"] for c in per_class.values()), default=0.0),
        "mcc_delta": _delta(ref_metrics["mcc"], new_metrics["mcc"]),
        "max_sensitivity_delta": max((c["sensitivity_delta"] for c in per_class.values()), default=0.0),
        "max_specificity_delta": max((c["specificity_delta"] for c in per_class.values()), default=0.0),
    }
    checks = [{"measure": m, "value": measures[m], "tolerance": float(tol[key]), "passed": measures[m] <= tol[key],
               "meaning": meaning} for m, (key, meaning) in CHECKS.items()]
    worst = np.argsort(-diff.max(axis=1), kind="stable")[:10] if n else []
    return {
        "n": n,
        "flips": int(flipped.sum()),
        "measures": measures,
        "checks": checks,
        "passed": all(c["passed"] for c in checks),
        "per_class": per_class,
        "metrics": {"reference": {k: ref_metrics[k] for k in ("mcc", "balanced_accuracy", "auroc", "accuracy")},
                    "new": {k: new_metrics[k] for k in ("mcc", "balanced_accuracy", "auroc", "accuracy")}},
        "largest_differences": [
            {"row_id": int(row_ids[i]), "true": classes[labels[i]], "reference": classes[ref_pred[i]],
             "new": classes[new_pred[i]], "max_abs_prob_diff": float(diff[i].max())} for i in worst],
    }


@dataclass
class BridgeReport:
    """What one bridge re-evaluation found; saved as JSON and Markdown in the run directory."""

    run_id: str
    created_utc: str
    purpose: str
    passed: bool
    stack_hash: str
    reference_stack_hash: str | None
    settings: dict[str, Any]
    stack_changes: list[dict[str, Any]]
    tolerances: dict[str, float]
    result: dict[str, Any]
    inputs: dict[str, str] = field(default_factory=dict)
    stack: dict[str, Any] = field(default_factory=dict)


def run_bridge(loaded, purpose: str = "bridge") -> BridgeReport:
    """Re-evaluate ``loaded`` (a ``LoadedRun`` put on this stack by ``medtorch.stack.gate.put_on_stack``) on its
    bridge set; record the report."""
    from medtorch.audit import utc_now
    from medtorch.evidence import Run
    from medtorch.stack import fingerprint, reference
    from medtorch.stack.bridge_markdown import to_markdown
    from medtorch.stack.settings import stack_of

    rd = loaded.rd
    stack_of(loaded, "a bridge re-evaluation")
    ref = reference.load(rd, loaded.manifest)
    new_probs = reference.predict_rows(loaded.preprocessor, loaded.network, ref.frame, loaded.eval_batch_size)
    tol = tolerances(loaded.config)
    ref_probs, labels = ref.probabilities, ref.labels
    result = compare(ref_probs, new_probs, labels, ref.classes, classification_metrics(labels, ref_probs, ref.classes),
                     ref.row_ids, tol)
    result["sets"] = ref.summary()
    ref_stack = ref.record.get("stack") or loaded.manifest.get("stack")
    added = [rd.bridge_added(s["set"], ext) for s in result["sets"][1:] for ext in ("json", "parquet")]
    run = Run.open(rd.root)
    inputs = run.hashes([rd.bridge_reference, rd.bridge_rows, *added, rd.model_weights, rd.preprocessing])
    report = BridgeReport(
        run_id=loaded.manifest["run_id"], created_utc=utc_now(), purpose=purpose, passed=result["passed"],
        stack_hash=loaded.stack["hash"], reference_stack_hash=(ref_stack or {}).get("hash"),
        settings=loaded.settings.as_dict(), stack_changes=fingerprint.diff(ref_stack, loaded.stack),
        tolerances=tol, result=result, inputs=inputs, stack=loaded.stack,
    )
    paths = [rd.bridge_report(report.stack_hash, "json"), rd.bridge_report(report.stack_hash, "md")]
    failed = [c["measure"] for c in result["checks"] if not c["passed"]]
    # versioned: a second bridge on this stack keeps the first report under versions/, still verifiable
    run.record_many(
        {paths[0]: asdict(report), paths[1]: to_markdown(report)}, event="bridge_evaluated",
        details={"stack_hash": report.stack_hash, "reference_stack_hash": report.reference_stack_hash,
                 "passed": report.passed, "purpose": purpose, "settings": report.settings, "failed_checks": failed,
                 "n": result["n"], "max_abs_prob_diff": result["measures"]["max_abs_prob_diff"], "flips": result["flips"]},
        inputs=inputs)
    return report


def summary(report: BridgeReport, rd) -> str:
    """A few lines for the terminal."""
    r = report.result
    lines = [f"bridge re-evaluation on stack {report.stack_hash[:16]} (reference stack "
             f"{(report.reference_stack_hash or 'unknown')[:16]}): {'PASSED' if report.passed else 'FAILED'}",
             f"  {r['n']} rows, {r['flips']} predicted label(s) changed"]
    for c in r["checks"]:
        lines.append(f"  {'ok  ' if c['passed'] else 'FAIL'} {c['measure']:<22} {c['value']:.3g} (tolerance {c['tolerance']:.3g})")
    lines.append(f"  report: {rd.bridge_report(report.stack_hash, 'md')}")
    return "\n".join(lines)
