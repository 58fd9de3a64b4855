"""The traceability table: each regulatory expectation and where this run holds its evidence.

Nothing here is written by hand per run: every row is computed by looking for the artefacts
(and, where it matters, the values inside them) listed in ``EXPECTATIONS``. An expectation
whose artefacts are absent, or whose values do not show it (dropout 0, weight decay 0, no
early stopping), is marked missing. Update ``EXPECTATIONS`` when a feature changes where it
writes its evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from medtorch.artefacts import artefact, evidence
from medtorch.report.blocks import fmt, load_structured, select

if TYPE_CHECKING:
    from medtorch.report.evidence import Evidence

# a bridge report's JSON, its stack hash captured from the declared path
_BRIDGE_JSON = re.compile(re.escape(artefact("bridge_report").glob_of(ext="json")).replace(r"\*", "([^/]+)") + "$")


@dataclass(frozen=True)
class Locator:
    pattern: str  # glob relative to the run directory, optionally ``#dotted.key`` inside a JSON/YAML file
    shows: str  # what the artefact shows, in words
    test: Callable[[Any], bool] | None = None  # must hold for the value at the key


@dataclass(frozen=True)
class Expectation:
    name: str
    section: str  # the report section (anchor) where the evidence is shown
    locators: tuple[Locator, ...]


def _positive(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def _has_rebalance(steps: Any) -> bool:
    return isinstance(steps, list) and any(isinstance(s, dict) and s.get("step") == "rebalance" for s in steps)


def _all_sensitivities(per_class: Any) -> bool:
    return isinstance(per_class, dict) and bool(per_class) and all(
        isinstance(v, dict) and "sensitivity" in v for v in per_class.values())


def L(key: str, at: str, shows: str, test: Callable[[Any], bool] | None = None, **values: object) -> Locator:
    """A locator of the artefact declared under ``key`` in ``medtorch.artefacts`` (``at``: a key inside it)."""
    return Locator(evidence(key, at, **values), shows, test)


EXPECTATIONS: tuple[Expectation, ...] = (
    Expectation("Balanced data and oversampling", "eda", (
        L("eda", "class_imbalance", "class imbalance ratio and the mitigation chosen"),
        L("lineage", "steps", "rebalancing step in the lineage", _has_rebalance))),
    Expectation("Documented processing", "data", (
        L("lineage", "", "data lineage from source to model inputs"),
        L("preprocessing", "fitted_on", "fitted preprocessing state and the rows it was fitted on"))),
    Expectation("Exploratory analysis: representativeness, fairness, imbalance", "eda", (
        L("eda", "representativeness", "representativeness by subgroup"),
        L("eda", "", "exploratory analysis per split"),
        L("eda_summary", "", "exploratory analysis summary"))),
    Expectation("Early split (before anything is fitted)", "split", (
        L("preprocessing", "fitted_on.split", "preprocessing fitted on the training split only", lambda v: v == "train"),
        L("split", "parts", "split made and hashed per part"))),
    Expectation("Leakage checks", "split", (
        L("leakage", "", "leakage check results"),)),
    Expectation("Hold-out governance", "ledger", (
        L("sealed_test", "", "sealed test set record"),
        L("test_roles", "summary", "role of each test set the run looked at (one role once demoted)"),
        L("split", "test_sealed", "test rows sealed at the split, not evaluated by training", lambda v: v is True))),
    Expectation("Regularisation and dropout", "training", (
        L("config", "model.dropout", "dropout", _positive),
        L("config", "optim.weight_decay", "weight decay", _positive),
        L("config", "early_stopping.enabled", "early stopping", lambda v: v is True))),
    Expectation("Calendar-time sensitivity", "subgroups", (
        L("assessment", "periods", "metrics by calendar period"),
        L("eda", "calendar", "class balance by calendar period"))),
    Expectation("MCC and full confusion matrix", "metrics", (
        L("metrics", "val.mcc", "validation MCC", lambda v: v is not None),
        L("metrics", "val.confusion_matrix", "validation K x K confusion matrix"),
        L("confusion_plot", "", "confusion matrix plot", kind="counts"))),
    Expectation("Cross-validation distributions", "cv", (
        L("cv_summary", "", "metric distribution across the folds this run belongs to"),)),
    Expectation("Minority-class sensitivity", "metrics", (
        L("assessment", "classes", "per-class sensitivity with confidence intervals"),
        L("metrics", "val.per_class", "per-class sensitivity on validation", _all_sensitivities))),
    Expectation("A-priori acceptance thresholds", "acceptance", (
        L("acceptance", "criteria", "criteria frozen before evaluation"),)),  # an empty list (acceptance=none) is a gap
    Expectation("Explainability", "explanations", (
        L("explanation", "", "feature attributions"),
        L("explanation_summary", "", "explanation summary"))),
    Expectation("Bridge re-evaluation", "stack", (
        L("bridge_report", "", "bridge re-evaluation", ext="json"),  # which stack: see _stack_of
        L("bridge_reference", "", "reference predictions for re-evaluation"))),
    Expectation("Inference data specification", "monitoring", (
        L("data_spec", "", "data specification enforced on inputs"),)),
    Expectation("Monitoring thresholds", "monitoring", (
        L("monitoring_reference", "", "reference distributions for drift monitoring"),
        L("config", "monitoring", "monitoring thresholds in the config"),
        L("monitoring_log", "", "monitoring history"))),
)


@dataclass
class Trace:
    expectation: str
    section: str
    present: bool
    evidence: list[str]  # "path#key: what it shows (value)"


def _value(ev: "Evidence", rel: str, key: str | None) -> Any:
    if not key:
        return None
    try:
        return select(load_structured(ev.root / rel), key)
    except (ValueError, OSError):
        return None


def _stack_of(ev: "Evidence", rel: str) -> str:
    """A bridge report is named by the stack it ran on: the run's own stack is a re-run, not a bridge."""
    m = _BRIDGE_JSON.match(rel)
    if not m:
        return ""
    own = str((ev.manifest.get("stack") or {}).get("hash") or "")
    h = m[1]
    return " on the training stack (a re-run)" if own and own.startswith(h) else " on another stack"


def trace(ev: "Evidence", expectations: tuple[Expectation, ...] = EXPECTATIONS) -> list[Trace]:
    """One row per expectation, from the artefacts present in the run."""
    rows = []
    for exp in expectations:
        found = []
        for loc in exp.locators:
            for rel, key in ev.find(loc.pattern):
                value = _value(ev, rel, key)
                if loc.test is not None and not loc.test(value):
                    continue
                shown = f" = {fmt(value)}" if key and not isinstance(value, (dict, list)) else ""
                verified = "" if rel in ev.recorded else " [not recorded by the audit trail]"
                found.append(f"{rel}{'#' + key if key else ''}: {loc.shows}{_stack_of(ev, rel)}{shown}{verified}")
        rows.append(Trace(exp.name, exp.section, bool(found), found))
    return rows
