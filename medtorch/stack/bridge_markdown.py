"""The Markdown form of a bridge report, for a reviewer."""

from __future__ import annotations

import math
from typing import Any


def _f(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float):
        return "inf" if math.isinf(v) else f"{v:.4g}"
    return str(v)


def to_markdown(report) -> str:
    r = report.result
    verdict = "PASSED" if report.passed else "FAILED"
    sets = ", ".join(f"{s['set']}: {s['n']} rows" for s in r.get("sets", []))
    out = [
        f"# Bridge re-evaluation: {verdict}",
        "",
        f"- run: `{report.run_id}`",
        f"- when (UTC): {report.created_utc}; purpose: {report.purpose}",
        f"- stack (fingerprint hash): `{report.stack_hash}`",
        f"- reference stack: `{report.reference_stack_hash}`",
        f"- inference settings: {', '.join(f'{k}={v}' for k, v in report.settings.items())}",
        f"- bridge set: {r['n']} rows in all ({sets}); {r['flips']} predicted label(s) changed",
        "",
        "## Checks against the run's tolerances",
        "",
        "| measure | value | tolerance | result | meaning |",
        "|---|---|---|---|---|",
    ]
    for c in r["checks"]:
        out.append(f"| {c['measure']} | {_f(c['value'])} | {_f(c['tolerance'])} | {'pass' if c['passed'] else '**FAIL**'} "
                   f"| {c['meaning']} |")
    out += ["", "## Per class (rows by true class)", "",
            "| class | rows | flips | flip rate | max abs prob diff | sensitivity ref -> new | specificity ref -> new |",
            "|---|---|---|---|---|---|---|"]
    for name, c in r["per_class"].items():
        out.append(f"| {name} | {c['rows']} | {c['flips']} | {_f(c['flip_rate'])} | {_f(c['max_abs_prob_diff'])} "
                   f"| {_f(c['sensitivity'][0])} -> {_f(c['sensitivity'][1])} "
                   f"| {_f(c['specificity'][0])} -> {_f(c['specificity'][1])} |")
    ref, new = r["metrics"]["reference"], r["metrics"]["new"]
    out += ["", "## Headline metrics", "", "| metric | reference | new |", "|---|---|---|"]
    out += [f"| {k} | {_f(ref[k])} | {_f(new[k])} |" for k in ref]
    out += ["", "## Rows that moved most", "", "| row id | true | reference | new | max abs prob diff |", "|---|---|---|---|---|"]
    out += [f"| {w['row_id']} | {w['true']} | {w['reference']} | {w['new']} | {_f(w['max_abs_prob_diff'])} |"
            for w in r["largest_differences"]]
    out += ["", "## What differs from the reference stack", ""]
    if report.stack_changes:
        out += ["| field | reference | this stack | in hash |", "|---|---|---|---|"]
        out += [f"| {c['field']} | `{c['a']}` | `{c['b']}` | {'yes' if c['hashed'] else 'no'} |" for c in report.stack_changes]
    else:
        out.append("Nothing: this is the stack the reference was computed on.")
    out += ["", "## Inputs (sha256)", ""] + [f"- `{k}`: `{v}`" for k, v in report.inputs.items()]
    return "\n".join(out) + "\n"
