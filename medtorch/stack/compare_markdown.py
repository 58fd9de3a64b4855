"""The Markdown form of a run comparison (``medtorch compare``)."""

from __future__ import annotations

import math
from typing import Any

from medtorch.stack.variation import to_markdown as variation_markdown


def _f(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _cell(m: dict[str, Any] | None) -> str:
    if not m:
        return "n/a"
    ci = m.get("ci")
    return _f(m["value"]) + (f" [{_f(ci[0])}, {_f(ci[1])}]" if ci else "")


def to_markdown(result: dict[str, Any]) -> str:
    runs = result["runs"]
    out = ["# Run comparison", "", "| # | run | experiment | seed | stack hash |", "|---|---|---|---|---|"]
    out += [f"| {r['index']} | `{r['path']}` | {r['experiment']} | {r['seed']} | `{(r['stack_hash'] or 'none')[:16]}` |"
            for r in runs]
    out += ["", "Run 0 is the baseline; the diffs below are against it.", ""]
    for r in runs[1:]:
        out += [f"## Run {r['index']} against run 0", "", "Stack fingerprint:", ""]
        if r["stack_changes"]:
            out += ["| field | run 0 | this run | in hash |", "|---|---|---|---|"]
            out += [f"| {c['field']} | `{c['a']}` | `{c['b']}` | {'yes' if c['hashed'] else 'no'} |" for c in r["stack_changes"]]
        else:
            out.append("the same stack (no field differs).")
        out += ["", "Configuration:", ""]
        if r["config_changes"]:
            out += ["| key | run 0 | this run |", "|---|---|---|"]
            out += [f"| {c['key']} | `{c['baseline']}` | `{c['run']}` |" for c in r["config_changes"]]
        else:
            out.append("the same configuration.")
        out.append("")
    for split, rows in result["metrics"].items():
        has_ci = any((row.get(k) or {}).get("ci") for row in rows for k in ("mcc", "balanced_accuracy", "auroc", "accuracy"))
        out += [f"## Metrics: {split}" + (" (estimate [confidence interval])" if has_ci else ""), "",
                "| # | " + " | ".join(("mcc", "balanced_accuracy", "auroc", "accuracy")) + " |", "|---" * 5 + "|"]
        for row in rows:
            out.append(f"| {row['index']} | " + " | ".join(_cell(row.get(k)) for k in ("mcc", "balanced_accuracy", "auroc", "accuracy")) + " |")
        classes = sorted({c for row in rows for c in row.get("per_class", {})})
        if classes:
            out += ["", "| # | " + " | ".join(f"{c} sens / spec" for c in classes) + " |", "|---" * (len(classes) + 1) + "|"]
            for row in rows:
                pc = row.get("per_class", {})
                out.append(f"| {row['index']} | " + " | ".join(
                    f"{_f(pc.get(c, {}).get('sensitivity'))} / {_f(pc.get(c, {}).get('specificity'))}" for c in classes) + " |")
        out.append("")
    out += variation_markdown(result.get("variation", []))
    out += ["## Per-sample agreement (rows both runs predicted)", ""]
    if result["agreement"]:
        out += ["| runs | split | shared rows | predictions that differ | share | max abs prob diff |", "|---|---|---|---|---|---|"]
        out += [f"| {a['a']} vs {a['b']} | {a['split']} | {a['shared_rows']} | {a['differ']} | {_f(a['share_differ'])} "
                f"| {_f(a['max_abs_prob_diff'])} |" for a in result["agreement"]]
    else:
        out.append("No rows are shared between the runs' prediction files.")
    return "\n".join(out) + "\n"
