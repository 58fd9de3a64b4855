"""Write a monitoring report: JSON (everything), Markdown (for people), plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medtorch.artefacts import artefact
from medtorch.figures import pyplot, save_png
from medtorch.run import write_json, write_text


def _f(v, nd: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{nd}g}" if isinstance(v, float) and abs(v) < 1e-3 and v != 0 else f"{v:.{nd}f}" \
        if isinstance(v, float) else str(v)


def markdown(r: dict[str, Any]) -> str:
    p = r["plan"]
    lines = [f"# Monitoring report: run {r['run_id']}", "",
             f"- input: `{r['input']}` (sha256 `{r['input_sha256'][:16]}...`), {r['rows']} rows",
             f"- time (UTC): {r['time_utc']}; data specification sha256 `{r['spec_sha256'][:16]}...`",
             f"- **status: {r['status'].upper()}** (exit code {r['exit_code']}); fail mode: {r['fail_mode'] or 'none needed'}",
             f"- rows violating the data specification: {r['rows_violating_spec']}"
             + (" (" + "; ".join(f"{k} x{n}" for k, n in r["spec_violations"].items()) + ")" if r["spec_violations"] else ""),
             "", "## Monitoring plan", "",
             f"PSI >= {p['psi_threshold']}, or test p < {p['pvalue']} (Bonferroni-corrected) with effect >= {p['min_effect']}, "
             f"is drift; missingness change >= {p['missingness_change']} is an alarm; MCC threshold {p['min_mcc']}, "
             f"sensitivity thresholds {p['min_sensitivity'] or 'none'} ({p['alarm_on']}, {int(p['ci_level'] * 100)}% CI); "
             f"on drift: {p['on_drift']}; on degradation: {p['on_degradation']}.", ""]
    if r["alarms"]["drift"] or r["alarms"]["degradation"]:
        lines += ["## Alarms", ""] + [f"- {a}" for a in r["alarms"]["degradation"] + r["alarms"]["drift"]] + [""]
    if not r["overall"].get("judged", True):  # reports written before the rule held no flag: judged
        lines += [f"The input has fewer than {p['min_window_rows']} rows: it is shown but raises no alarm.", ""]
    small = [w["window"] for w in r["windows"] if not w["judged"]]
    if small:
        lines += [f"Windows with fewer than {p['min_window_rows']} rows are shown but raise no alarm: {', '.join(small)}.", ""]
    for name, s in [("Overall", r["overall"])] + [(f"Window {w['window']}", w) for w in r["windows"]]:
        lines += _section(name, s)
    return "\n".join(lines) + "\n"


def _section(name: str, s: dict[str, Any]) -> list[str]:
    out = [f"## {name} ({s['n']} rows, {s['n_predicted']} predicted)", "",
           "| column | kind | PSI | test | statistic | p-value | missing (train -> new) | drift |",
           "|---|---|---|---|---|---|---|---|"]
    for f in s["features"]:
        flag = "**DRIFT**" if f["drift"] else ""
        if f["missingness_alarm"]:
            flag += " **MISSINGNESS**"
        out.append(f"| {f['column']} | {f['kind']} | {_f(f['psi'])} | {f['test']} | {_f(f['statistic'])} | {_f(f['pvalue'])} | "
                   f"{f['missing_reference']:.3f} -> {f['missing_new']:.3f} | {flag} |")
    pr = s["prediction"]
    out += ["", f"Predicted class: PSI {_f(pr['psi'])}, chi-square p {_f(pr['pvalue'])}"
            + (" **DRIFT**" if pr["drift"] else ""), ""]
    d = s["degradation"]
    if d:
        m = d["mcc"]
        out += [f"Labelled rows: {d['n']}. MCC {_f(m['estimate'])} (CI {_f(m['low'])} to {_f(m['high'])}), threshold "
                f"{m['threshold']}" + (" **BREACH**" if m["breach"] else ""), "",
                "| class | n | sensitivity | CI | threshold | breach |", "|---|---|---|---|---|---|"]
        for c, v in d["sensitivity"].items():
            out.append(f"| {c} | {v['n']} | {_f(v['estimate'])} | {_f(v['low'])} to {_f(v['high'])} | {v['threshold']} | "
                       f"{'**BREACH**' if v['breach'] else ''} |")
        out.append("")
    return out


def plots(r: dict[str, Any], folder: Path, classes: list[str]) -> list[Path]:
    plt = pyplot()
    paths = []
    feats = r["overall"]["features"]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(feats) + 1.5))
    vals = [f["psi"] or 0.0 for f in feats]
    ax.barh([f["column"] for f in feats], vals, color=["tab:red" if f["drift"] else "tab:blue" for f in feats])
    ax.axvline(r["plan"]["psi_threshold"], color="k", ls="--", label="threshold")
    ax.set_xlabel("population stability index"), ax.legend(), ax.invert_yaxis()
    paths.append(_save(fig, folder / _plot("psi")))
    pr = r["overall"]["prediction"]
    if pr.get("classes"):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        import numpy as np

        ref = np.array(pr["reference_counts"], float)
        new = np.array(pr["new_counts"], float)
        x = np.arange(len(pr["classes"]))
        ax.bar(x - 0.2, ref / max(ref.sum(), 1), 0.4, label="training")
        ax.bar(x + 0.2, new / max(new.sum(), 1), 0.4, label="new")
        ax.set_xticks(x, pr["classes"]), ax.set_ylabel("share of rows"), ax.set_title("Predicted class"), ax.legend()
        paths.append(_save(fig, folder / _plot("predicted_class")))
    windows = [w for w in r["windows"] if w["degradation"]]
    if windows:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        est = [w["degradation"]["mcc"]["estimate"] for w in windows]
        lo = [e - w["degradation"]["mcc"]["low"] for e, w in zip(est, windows)]
        hi = [w["degradation"]["mcc"]["high"] - e for e, w in zip(est, windows)]
        ax.errorbar([w["window"] for w in windows], est, yerr=[lo, hi], fmt="o", capsize=3)
        if r["plan"]["min_mcc"] is not None:
            ax.axhline(r["plan"]["min_mcc"], color="tab:red", ls="--", label="threshold")
            ax.legend()
        ax.set_ylabel("MCC"), ax.set_title("MCC by calendar window")
        paths.append(_save(fig, folder / _plot("mcc_by_window")))
    return paths


def _plot(name: str) -> str:
    """A plot's path inside the folder of one monitoring report, from its declaration."""
    return artefact("monitoring_plot").tail(2, plot=name)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    return save_png(fig, path, dpi=100)


def write_report(r: dict[str, Any], folder: Path, classes: list[str]) -> list[Path]:
    folder = Path(folder)
    files = plots(r, folder, classes)
    report = artefact("monitoring_report")
    files.append(write_json(folder / report.file_name(ext="json"), r))
    files.append(write_text(folder / report.file_name(ext="md"), markdown(r)))
    return files
