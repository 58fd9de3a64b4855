"""Monitoring of a task=survival model: input drift, risk-score drift and, with outcomes, C-index
degradation.

At training, ``record_reference`` stores the training rows' distributions (the same reference as
classification: quantile bins and a sample per numeric column, level counts per categorical one) and
the training risk scores' distribution, beside the validation C-index.

``medtorch monitor RUN --input FILE [--labels EVENT_COLUMN]`` verifies the run, checks every row
against the data specification (any violation refuses the input, EXIT_BAD_INPUT), and tests each feature and
the risk score for drift (PSI, KS / chi-square with Bonferroni over the columns and a minimum effect,
as ``medtorch.deploy.drift``). With ``--labels`` naming the event column (the run's duration column
must be in the input too) it computes Harrell's C with a bootstrap interval
(``monitoring.bootstrap``, ``monitoring.ci_level``) and compares it with ``survival.min_cindex``
(``monitoring.alarm_on``: the estimate, or the interval's upper bound). Exit codes: 0 nothing crossed
a threshold; EXIT_DRIFT drift; EXIT_DEGRADED degradation (takes precedence). Each monitoring appends
one line to the run's monitoring log, as classification's does (``medtorch.deploy.monitor_log``); a log
changed since the run recorded it is refused (EXIT_INTEGRITY) before anything is written. Survival monitoring
warns and never blocks predictions (``monitoring.on_drift``/``on_degradation=block`` are not applied).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from medtorch.artefacts import artefact
from medtorch.audit import utc_now
from medtorch.errors import EXIT_DEGRADED, EXIT_DRIFT, EXIT_OK, MedtorchError
from medtorch.evidence import Run, encode
from medtorch.run import RunDir, write_bytes


def reference_path(rd: RunDir) -> Path:
    return rd.survival("monitoring_reference")


def record_reference(cfg, splits, spec, eta_train: np.ndarray, val_cindex: float, run: Run) -> None:
    from medtorch.deploy.reference import bin_counts, derive_reference

    ref = derive_reference(splits.train, spec, np.zeros(len(splits.train), dtype=np.int64), ["-"], cfg.monitoring.bins)
    ref.pop("predicted_class")
    x = np.sort(np.asarray(eta_train, float))
    edges = np.unique(np.quantile(x, np.linspace(0, 1, cfg.monitoring.bins + 1)[1:-1]))
    ref["risk_score"] = {"column": "risk_score", "missing_fraction": 0.0, "n": int(len(x)), "edges": edges.tolist(),
                         "counts": bin_counts(x, edges).tolist(), "sample": x.tolist()}
    ref["val_cindex"] = val_cindex
    run.record(reference_path(run.rd), ref, event="monitoring_reference_recorded",
               details={"task": "survival", "columns": len(ref["columns"])})


def monitor_survival(run_dir: str | Path, input_path: str | Path, labels: str | None = None,
                     out: str | Path | None = None) -> tuple[dict[str, Any], Path, int]:
    from medtorch.deploy.drift import categorical_drift, numeric_drift
    from medtorch.deploy.monitor_log import log_monitoring, monitoring_entry
    from medtorch.hashing import sha256_file
    from medtorch.models.inference import eval_batch_size, infer
    from medtorch.survival.assessment import _ci
    from medtorch.survival.concordance import harrell_c
    from medtorch.survival.predict import checked_input, load_survival_model

    rd = RunDir(Path(run_dir)).require()
    frame, typed = checked_input(rd, input_path)
    network, prep, _, cfg = load_survival_model(rd)
    run = Run.open(rd.root)
    ref = run.read_json(reference_path(rd))
    m = cfg["monitoring"]
    plan = SimpleNamespace(**m)
    eta = infer(network, typed, eval_batch_size(cfg), preprocessor=prep, output="risk")
    tested = ref["columns"]
    alpha = plan.pvalue / max(len(tested) + 1, 1)  # Bonferroni over the columns and the risk score
    drift = []
    for c in tested:
        if c["kind"] == "numeric":
            drift.append(numeric_drift(c, pd.to_numeric(typed[c["column"]], errors="coerce").to_numpy(float), alpha, plan))
        else:
            drift.append(categorical_drift(c, typed[c["column"]], alpha, plan))
    risk = numeric_drift(ref["risk_score"], eta, alpha, plan)
    report: dict[str, Any] = {"run": str(rd.root), "input": str(Path(input_path).resolve()),
                              "input_sha256": sha256_file(input_path), "rows": int(len(eta)),
                              "time_utc": utc_now(), "drift": drift, "risk_score_drift": risk,
                              "drifted_columns": [d["column"] for d in drift if d["drift"] or d["missingness_alarm"]]}
    # an input smaller than monitoring.min_window_rows is reported and raises no alarm (tests alarm on chance there)
    report["judged"] = judged = len(eta) >= int(plan.min_window_rows)
    code = EXIT_DRIFT if judged and (report["drifted_columns"] or risk["drift"]) else EXIT_OK
    if labels:
        report["degradation"] = _degradation(frame, labels, cfg, eta, ref, m, _ci, harrell_c)
        d = report["degradation"]  # Harrell's C on fewer labelled rows than min_window_rows alarms on chance too
        d["alarm"] = bool(judged and d["n"] >= int(plan.min_window_rows) and d["alarm"])
        if report["degradation"]["alarm"]:
            code = EXIT_DEGRADED
    report["status"] = {EXIT_DEGRADED: "degraded", EXIT_DRIFT: "drift"}.get(code, "ok")
    report["exit_code"] = code
    md = "\n".join(["# Survival monitoring", "", *summary(report)]) + "\n"
    alarms = [f"drift in {report['drifted_columns']}"] if judged and report["drifted_columns"] else []
    alarms += [f"risk-score drift (PSI {risk['psi']:.3f})"] if judged and risk["drift"] else []
    if code == EXIT_DEGRADED:
        d = report["degradation"]
        alarms.append(f"Harrell's C {d['cindex']['estimate']:.3f} below survival.min_cindex {d['min_cindex']} "
                      f"(judged on the {'estimate' if d['alarm_on'] == 'estimate' else 'upper bound of its interval'})")
    default = rd.monitoring / f"survival_{utc_now().replace(':', '').replace('.', '')}"
    # the log verified and the folder settled under the run's lock, before anything is written
    with monitoring_entry(run, Path(out) if out else default, chosen=bool(out)) as (existing, folder):
        json_path, md_path = (folder / artefact("monitoring_report").file_name(ext=ext) for ext in ("json", "md"))
        items = {json_path: report, md_path: md}
        line = {"time_utc": report["time_utc"], "input": report["input"], "input_sha256": report["input_sha256"],
                "rows": report["rows"], "status": report["status"], "exit_code": code, "report": str(folder.resolve()),
                "alarms": alarms, "task": "survival"}
        details = {"task": "survival", "status": report["status"], "rows": report["rows"], "exit_code": code,
                   "drifted_columns": report["drifted_columns"], "risk_score_drift": risk["drift"],
                   "cindex": (report.get("degradation") or {}).get("cindex"), "report": run.name_of(folder)}
        for path, obj in items.items():
            write_bytes(path, encode(obj))
        log_monitoring(run, existing, line, items, details, inputs={report["input"]: report["input_sha256"]})
    return report, folder, code


def _degradation(frame, labels, cfg, eta, ref, m, _ci, harrell_c) -> dict[str, Any]:
    from medtorch.survival.data import _check_durations, _check_events

    dur = cfg["data"]["duration_column"]
    for col, what in ((labels, "--labels (the event column)"), (dur, "the run's duration column")):
        if col not in frame.columns:
            raise MedtorchError(f"{what} {col!r} is not a column of the monitored input; degradation needs the "
                                f"follow-up time ({dur!r}) and the event indicator of every row.")
    t = _check_durations(frame[dur], dur, "the monitored input")
    e = _check_events(frame[labels], labels, "the monitored input", role="monitoring")
    est = harrell_c(t, e, eta)
    if not np.isfinite(est):  # every event at one tied time, a single row, ...: no pair to compare
        raise MedtorchError(f"--labels {labels!r}: no pair of the {len(t)} monitored rows is comparable (an earlier "
                            "event against a later follow-up), so Harrell's C cannot be computed; degradation needs "
                            "rows with events at different times.")
    rng = np.random.default_rng(0)
    draws = [harrell_c(t[r], e[r], eta[r]) for r in (rng.integers(0, len(t), len(t)) for _ in range(m["bootstrap"]))]
    ci = _ci(est, draws, m["ci_level"])
    threshold = cfg["survival"].get("min_cindex")
    judged = ci["estimate"] if m["alarm_on"] == "estimate" else ci["upper"]
    alarm = bool(threshold is not None and judged is not None and judged < threshold)
    return {"cindex": ci, "n": int(len(t)), "events": int(e.sum()), "validation_cindex": ref["val_cindex"],
            "change_from_validation": None if est is None or not np.isfinite(est) else est - ref["val_cindex"],
            "min_cindex": threshold, "alarm_on": m["alarm_on"], "alarm": alarm}


def summary(report: dict[str, Any]) -> list[str]:
    lines = [f"rows: {report['rows']}; drifted columns: {report['drifted_columns'] or 'none'}; "
             f"risk-score drift: {report['risk_score_drift']['drift']} (PSI {report['risk_score_drift']['psi']:.3f})"]
    d = report.get("degradation")
    if d:
        c = d["cindex"]
        f = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731 - an interval from too few resamples has no bounds
        lines.append(f"Harrell's C {f(c['estimate'])} [{f(c['lower'])}, {f(c['upper'])}] on {d['n']} rows "
                     f"({d['events']} events); validation {d['validation_cindex']:.3f}; threshold {d['min_cindex']}; "
                     f"alarm: {d['alarm']}")
    if not report.get("judged", True):
        lines.append("not judged: fewer rows than monitoring.min_window_rows; reported, no alarm raised")
    lines.append(f"exit code: {report['exit_code']}")
    return lines
