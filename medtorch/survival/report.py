"""The evidence report of a ``task=survival`` run: Markdown and a self-contained HTML page.

Built only from a run whose audit trail verifies (``medtorch.integrity.require_intact``); summaries
only, no row-level data. Sections: data and split, survival EDA, leakage, training, validation
metrics with intervals (network beside the lifelines Cox PH baseline), the horizons (td-AUC, Brier,
confusion matrix and MCC), acceptance judged on validation, and the plots.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from medtorch.audit import utc_now
from medtorch.evidence import Run
from medtorch.run import RunDir, read_json


def _f(ci: dict[str, Any] | None) -> str:
    if not ci or ci.get("estimate") is None:
        return "n/a"
    if ci.get("lower") is None:
        return f"{ci['estimate']:.3f}"
    return f"{ci['estimate']:.3f} [{ci['lower']:.3f}, {ci['upper']:.3f}]"


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _metrics_table(models: dict[str, dict[str, Any]], unit: str) -> list[str]:
    names = list(models)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for key, label in (("cindex", "Harrell's C"), ("uno_cindex", "Uno's C (IPCW)"), ("ibs", "integrated Brier score")):
        lines.append(f"| {label} | " + " | ".join(_f(models[n]["overall"][key]) for n in names) + " |")
    first = models[names[0]]
    for k, h in enumerate(first["horizons"]):
        for key, label in (("td_auc", "time-dependent AUC"), ("brier", "Brier score")):
            lines.append(f"| {label} at {h['horizon']:g} {unit} | "
                         + " | ".join(_f(models[n]["horizons"][k][key]) for n in names) + " |")
        for m in ("mcc", "sensitivity", "specificity"):
            lines.append(f"| {m} at {h['horizon']:g} {unit} | "
                         + " | ".join(_f(models[n]["horizons"][k]["confusion"]["ci"][m]) for n in names) + " |")
    return lines


def build_markdown(rd: RunDir) -> tuple[str, list[str]]:
    m, metrics = read_json(rd.manifest), read_json(rd.metrics)
    split = read_json(rd.split)
    val, unit = metrics["val"], metrics["horizon_unit"]
    sd = rd.survival_dir
    out = [f"# Evidence report: {m.get('experiment')} run {str(m.get('run_id'))[:12]} (time-to-event)", "",
           f"- status: {m.get('status')}; trained {m.get('started_utc')} to {m.get('finished_utc')} (UTC)",
           f"- data: {m['data'].get('name') or m['data'].get('path')} (sha256 {m['data']['sha256'][:16]}...), "
           f"{m['data']['rows']} rows, {m['data']['events']} events; duration `{m['data']['duration_column']}` in "
           f"{m['data']['duration_unit']}s, event `{m['data']['event_column']}` (1 event, 0 censored)",
           f"- split: {split['strategy']}, stratified on the {split.get('stratified_on')}; "
           + ", ".join(f"{k} {v['rows']} rows / {v['events']} events" for k, v in split["parts"].items())
           + "; the test split is sealed and was not evaluated",
           f"- loss: Cox partial likelihood ({read_json(rd.model_spec)['ties']} ties); batches without an event "
           f"skipped and counted: {metrics['skipped_batches']}; best epoch {metrics['selected_epoch']['best_epoch']} "
           f"by {metrics['selected_epoch']['monitor']}",
           f"- survival curves: {metrics['baseline_hazard']}; IPCW: {metrics['ipcw']}",
           f"- bootstrap: {val['resamples']} {val['bootstrap_unit']}-level resamples, "
           f"{val['confidence']:.0%} percentile intervals", ""]
    models = {"network": val}
    if metrics.get("cox_baseline"):
        models["Cox PH (lifelines)"] = metrics["cox_baseline"]["val"]
    out += [f"## Validation metrics (n={val['n']}, events={val['events']})", "", *_metrics_table(models, unit), ""]
    out += ["## Horizons", ""]
    for h in val["horizons"]:
        c = h["confusion"]
        cm = c["confusion_matrix"]
        out += [f"### {h['horizon']:g} {unit} ({h['horizon_duration']:g} {metrics['duration_unit']}s)", "",
                f"Events by the horizon: {h['events_by_horizon']}; followed beyond it: {h['at_risk_after']}. "
                f"Confusion matrix among {c['n_known']} patients of known status ({c['unknown']} censored earlier, "
                f"left out); predicted positive: risk 1 - S(t) >= {c['threshold']:.4f} (fixed on validation).", "",
                "| | predicted no event | predicted event |", "|---|---|---|",
                f"| no event by horizon | {cm[0][0]} | {cm[0][1]} |", f"| event by horizon | {cm[1][0]} | {cm[1][1]} |", ""]
    acc = metrics.get("val_acceptance")
    if acc:
        out += ["## Acceptance criteria (judged on validation)", "", f"{acc['judged_on']}. Passed: {acc['passed']}", "",
                "| criterion | observed | passed |", "|---|---|---|"]
        out += [f"| {r['criterion']} | {_num(r['observed'])} | {r['passed']} |" for r in acc["results"]]
        out.append("")
    if rd.leakage.is_file():
        lk = read_json(rd.leakage)
        out += [f"## Leakage checks: {lk['status']}", "", "| check | status | summary |", "|---|---|---|"]
        out += [f"| {c['check']} | {c['status']} | {c['summary']} |" for c in lk["checks"]]
        out.append("")
    if rd.survival("eda_summary").is_file():
        out += [line.replace("# ", "## ", 1) if line.startswith("# ") else line
                for line in rd.survival("eda_summary").read_text().splitlines()] + [""]
    images = sorted(str(p.relative_to(rd.root)) for p in sd.glob("*.png"))
    if images:
        out += ["## Plots", ""] + [f"![{Path(i).stem}]({i})" for i in images] + [""]
    looks = rd.test_evaluation_files
    if looks:
        out += ["## Governed test looks", "", "| look | role | Harrell's C | Cox PH Harrell's C | accepted |",
                "|---|---|---|---|---|"]
        for p in looks:
            ev = read_json(p)
            cox = (ev.get("cox_baseline") or {}).get("overall", {}).get("cindex")
            out.append(f"| {ev['evaluation']} | {ev['role']} | {_f(ev['assessment']['overall']['cindex'])} | {_f(cox)} | "
                       f"{ev['passed']} |")
        out.append("")
    else:
        out += ["The test split is sealed and has not been evaluated (`medtorch evaluate RUN`).", ""]
    return "\n".join(out), images


def show_lines(rd: RunDir, metrics: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    """What ``medtorch show`` prints for a survival run: validation, Cox baseline, test looks, artefacts."""
    v, unit = metrics["val"], metrics["horizon_unit"]
    out = [f"validation n={v['n']} events={v['events']}  Harrell's C {_f(v['overall']['cindex'])}  "
           f"Uno's C {_f(v['overall']['uno_cindex'])}  IBS {_f(v['overall']['ibs'])}"]
    out += [f"  at {h['horizon']:g} {unit}: td-AUC {_f(h['td_auc'])}  MCC {_f(h['confusion']['ci']['mcc'])}  "
            f"confusion [[TN, FP], [FN, TP]] {h['confusion']['confusion_matrix']}" for h in v["horizons"]]
    if metrics.get("cox_baseline"):
        out.append(f"Cox PH baseline: Harrell's C {_f(metrics['cox_baseline']['val']['overall']['cindex'])}")
    looks = rd.test_evaluation_files
    out += [f"test evaluation {e['evaluation']}: {e['role']}, Harrell's C {_f(e['assessment']['overall']['cindex'])}, "
            f"{'accepted' if e['passed'] else 'NOT accepted'}" for e in map(read_json, looks)] or ["test set: sealed, not evaluated"]
    out.append("artefacts:")
    out += [f"  {name:<34} sha256 {digest[:16]}..." for name, digest in sorted(manifest.get("artefacts", {}).items())]
    return out


def write_report(run_dir: str | Path) -> tuple[Path, Path]:
    from markdown_it import MarkdownIt

    from medtorch.integrity import require_intact

    rd = RunDir(Path(run_dir)).require()
    require_intact(rd.root)
    md, images = build_markdown(rd)
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(md)
    for rel in images:  # embedded, so the page stays self-contained
        uri = "data:image/png;base64," + base64.b64encode((rd.root / rel).read_bytes()).decode("ascii")
        body = body.replace(f'src="{html.escape(rel)}"', f'src="{uri}"')
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>medtorch survival report</title><style>"
            "body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 6px}img{max-width:100%}</style></head><body>"
            + body + f"<p><small>written {utc_now()} (UTC)</small></p></body></html>")
    run = Run.open(rd.root)
    run.record_many({rd.report_md: md, rd.report_html: page}, event="report_written", details={"task": "survival"},
                    inputs={**run.hashes([rd.metrics, *(rd.root / i for i in images)]),
                            **run.hashes([rd.leakage], optional=True)})
    return rd.report_md, rd.report_html
