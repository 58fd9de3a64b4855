"""Monitoring: compare new data with the training reference, against the run's monitoring plan.

``monitor_file`` reads the new data, checks it against the data specification (violations
are counted and reported; rows that break it get no prediction), predicts the valid rows,
and measures per-feature drift, predicted-class drift and missingness change; with labels,
MCC and per-class sensitivity with intervals against the plan's degradation thresholds;
with a time column and ``monitoring.window``, the same per calendar window. It writes a
report folder (JSON, Markdown, plots), appends one line to the run's monitoring log and one
event to its event log, applies the plan's fail mode (a block stops ``predict``), and
returns the exit code a scheduler can alert on.

The input is read in chunks (``chunk_rows``, as ``predict`` reads it) by
``medtorch.deploy.gather``, which keeps only compact per-row arrays: about
``8 x numeric features + 4 x categorical features + 13`` bytes per row (numeric values as
float64 for the Kolmogorov-Smirnov test, categorical levels as int32 codes, validity,
predicted class, label and calendar window), plus one chunk at a time. The whole table is
never held in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from medtorch.errors import EXIT_DEGRADED, EXIT_DRIFT, EXIT_OK, MedtorchError


def monitoring_plan(run_config: dict[str, Any]):
    """The run's monitoring plan, with the schema's defaults for keys an older config lacks."""
    from omegaconf import OmegaConf

    from medtorch.config import MonitoringConfig

    return OmegaConf.merge(OmegaConf.structured(MonitoringConfig), run_config.get("monitoring") or {})


def analyse(g, mask: np.ndarray, ctx: dict[str, Any]) -> dict[str, Any]:
    """Drift (and degradation, when labels are given) of the rows of ``g`` (a ``Gathered``) in ``mask``."""
    from medtorch.deploy.degradation import degradation
    from medtorch.deploy.drift import categorical_drift_counts, numeric_drift, prediction_drift
    from medtorch.deploy.gather import predicted_counts, section_counts

    plan, ref, classes = ctx["plan"], ctx["ref"], ctx["classes"]
    alpha = plan.pvalue / (len(ref["columns"]) + 1)  # Bonferroni over the features and the predicted class
    features = []
    for r in ref["columns"]:
        if r["kind"] == "numeric":
            features.append(numeric_drift(r, g.numeric[r["column"]][mask], alpha, plan))
        else:
            features.append(categorical_drift_counts(r, *section_counts(g, mask, r["column"]), alpha, plan))
    valid = g.valid[mask]
    out: dict[str, Any] = {
        "n": int(mask.sum()), "n_predicted": int(valid.sum()), "alpha_per_test": alpha, "features": features,
        "drifted_columns": [f["column"] for f in features if f["drift"]],
        "missingness_alarms": [f["column"] for f in features if f["missingness_alarm"]],
        "prediction": prediction_drift(ref["predicted_class"], predicted_counts(g, mask, classes), alpha, plan),
        "degradation": None,
    }
    if g.y is not None:
        y, pred = g.y[mask].astype(np.int64), g.pred[mask].astype(np.int64)
        keep = valid & (y >= 0)
        out["labelled"] = int(keep.sum())
        out["degradation"] = degradation(y[keep], pred[keep], classes, plan, seed=ctx["seed"]) if keep.any() else None
    return out


def monitor_file(run_dir: str | Path, input_path: str | Path, labels: Optional[str] = None,
                 time_column: Optional[str] = None, out: Optional[str | Path] = None,
                 window: Optional[str] = None, load_options: Optional[dict] = None,
                 chunk_rows: int = 100_000) -> tuple[dict[str, Any], Path, int]:
    from omegaconf import OmegaConf

    from medtorch.audit import utc_now
    from medtorch.deploy.block import block
    from medtorch.deploy.checks import SpecChecker
    from medtorch.deploy.fingerprint import stack_fingerprint
    from medtorch.deploy.gather import gather
    from medtorch.deploy.monitor_log import log_monitoring, monitoring_entry
    from medtorch.deploy.monitor_report import write_report
    from medtorch.deploy.spec import read_run_spec
    from medtorch.evidence import Run
    from medtorch.hashing import sha256_file
    from medtorch.loading import verify_artefact
    from medtorch.run import read_json
    from medtorch.stack.gate import require_bridged_stack

    input_path = Path(input_path)
    if window is not None and not time_column:  # before the bridge check, which may write
        raise MedtorchError(f"--window {window} sets the calendar windows of --time COLUMN, and no --time was given; "
                            "name the input's date column with --time, or leave out --window.")
    run = require_bridged_stack(run_dir, "monitor", **(load_options or {}))
    rd = run.rd
    spec, spec_sha = read_run_spec(rd, run.manifest)
    verify_artefact(rd, rd.monitoring_reference, run.manifest)
    ref = read_json(rd.monitoring_reference)
    plan = monitoring_plan(run.config)
    if window is not None:
        if window not in ("D", "W", "M", "Q", "Y"):
            raise MedtorchError(f"--window must be one of D, W, M, Q, Y; got {window!r}.")
        plan.window = window
    if time_column and not plan.window:
        raise MedtorchError(f"--time {time_column} needs calendar windows: pass --window D|W|M|Q|Y, or set "
                            "monitoring.window in the run's config.")
    g = gather(run, SpecChecker(spec), input_path, labels, time_column, plan.window if time_column else None, chunk_rows)
    ctx = {"plan": plan, "ref": ref, "classes": run.classes, "seed": int(run.config.get("seed", 0))}
    overall = analyse(g, np.ones(g.n, dtype=bool), ctx)
    windows = []
    if g.window is not None:
        from medtorch.data.calendar import refusal

        present = [w for w in g.windows if w is not None and w == w and str(w) != "<NA>"]
        if len(present) == 1:  # one window compares nothing: refuse rather than report it
            raise MedtorchError(refusal(time_column, f"--window {plan.window}", str(present[0]), g.n,
                                        setting="--window (D, W, M, Q, Y)"))
        for code in sorted(range(len(g.windows)), key=g.windows.__getitem__):
            windows.append({"window": str(g.windows[code]), **analyse(g, g.window == code, ctx)})
    least = plan.min_window_rows  # a small input as a whole is judged by the rule of a small window, and each
    for w in [overall, *windows]:  # alarm by the rows it rests on: predictions on predicted rows, MCC on labelled ones
        w["judged"] = w["n"] >= least
        w["judged_predictions"] = w["n_predicted"] >= least
        w["judged_degradation"] = w.get("labelled", 0) >= least
    sections = [(n, s) for n, s in [("overall", overall)] + [(w["window"], w) for w in windows] if s["judged"]]
    drift = [f"{n}: drift in {s['drifted_columns']}" for n, s in sections if s["drifted_columns"]]
    drift += [f"{n}: missingness changed in {s['missingness_alarms']}" for n, s in sections if s["missingness_alarms"]]
    drift += [f"{n}: predicted-class distribution drifted (PSI {s['prediction']['psi']:.3f})" for n, s in sections
              if s["prediction"]["drift"] and s["judged_predictions"]]
    degraded = [f"{n}: {b}" for n, s in sections if s["degradation"] and s["judged_degradation"]
                for b in s["degradation"]["breaches"]]
    code = EXIT_DEGRADED if degraded else EXIT_DRIFT if drift else EXIT_OK
    blocking = (degraded and plan.on_degradation == "block") or (drift and plan.on_drift == "block")
    stamp = utc_now().replace(":", "").replace("-", "").replace(".", "")
    report = {
        "run_id": run.manifest["run_id"], "time_utc": utc_now(), "input": str(input_path.resolve()),
        "input_sha256": sha256_file(input_path), "spec_sha256": spec_sha,
        "stack_fingerprint": stack_fingerprint(run)[0],  # the stack its predictions were computed on, as predict's
        "labels": labels, "time_column": time_column,
        "rows": g.n, "rows_violating_spec": int((~g.valid).sum()), "spec_violations": g.by_rule,
        "ignored_columns": g.ignored_columns,
        "plan": OmegaConf.to_container(plan), "overall": overall, "windows": windows,
        "status": "degraded" if degraded else "drift" if drift else "ok", "exit_code": code,
        "alarms": {"drift": drift, "degradation": degraded},
        "fail_mode": ("predictions blocked until reviewed" if blocking else "warn") if (drift or degraded) else None,
    }
    report["summary"] = _summary(report)
    evidence = Run.open(rd.root)
    # the log verified and the folder settled under the run's lock, before anything is written
    with monitoring_entry(evidence, Path(out) if out else rd.monitoring / stamp, chosen=bool(out)) as (existing, folder):
        line = {"time_utc": report["time_utc"], "input": report["input"], "input_sha256": report["input_sha256"],
                "rows": report["rows"], "status": report["status"], "exit_code": code, "report": str(folder.resolve()),
                "alarms": drift + degraded, "stack_fingerprint": report["stack_fingerprint"]}
        files = write_report(report, folder, run.classes)
        log_monitoring(evidence, existing, line, files, {"status": report["status"], "exit_code": code,
                                                         "rows": report["rows"], "report": evidence.name_of(folder),
                                                         "stack_fingerprint": report["stack_fingerprint"]},
                       inputs={report["input"]: report["input_sha256"]})
        if blocking:  # under the same lock: the block follows its monitoring in the log, with no unblock between
            block(rd, f"monitoring found {report['status']}: " + "; ".join((degraded + drift)[:5]), str(folder.resolve()))
    return report, folder, code


def _summary(r: dict[str, Any]) -> list[str]:
    o = r["overall"]
    lines = [f"status {r['status'].upper()} (exit {r['exit_code']}): {r['rows']} rows, {r['rows_violating_spec']} "
             f"violating the data specification, {o['n_predicted']} predicted"]
    least = r["plan"]["min_window_rows"]
    if not o["judged"]:
        lines.append(f"not judged: fewer than monitoring.min_window_rows ({least}) rows, on which drift tests and "
                     "intervals alarm on chance; reported, no alarm raised")
    elif o["degradation"] and not o["judged_degradation"]:
        lines.append(f"performance not judged: {o['labelled']} labelled, predicted rows, fewer than "
                     f"monitoring.min_window_rows ({least}); reported, no degradation alarm raised")
    if o["degradation"]:
        m = o["degradation"]["mcc"]
        lines.append(f"MCC {m['estimate']:.3f} ({int(r['plan']['ci_level'] * 100)}% CI {m['low']:.3f} to {m['high']:.3f}); "
                     f"threshold {m['threshold']}")
    lines += [f"DRIFT {a}" for a in r["alarms"]["drift"]] + [f"DEGRADED {a}" for a in r["alarms"]["degradation"]]
    if r["fail_mode"]:
        lines.append(f"fail mode: {r['fail_mode']}")
    return lines
