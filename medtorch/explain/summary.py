"""The Markdown summary of an explanation (``artefact("explanation_summary")``), from its report alone."""

from __future__ import annotations

from typing import Any

from medtorch.artefacts import artefact
from medtorch.explain.settings import METHODS


def _f(v: Any, digits: int = 3) -> str:
    return "n/a" if v is None or (isinstance(v, float) and v != v) else f"{v:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def summary_markdown(report: dict[str, Any]) -> str:
    r = report
    labels = {m: METHODS[m][1] for m in r["methods"]}
    out = [f"# Explanation: {r['model']} model on {r['split']} rows", "",
           f"- Rows explained: {r['rows_explained']} of the {r['split_rows']} {r['split']} rows.",
           f"- Baseline (reference input): `{r['baseline']}`, computed from the training rows only.",
           "- Methods: " + ", ".join(f"{labels[m]} ({e['seconds']:.2f} s)" for m, e in r["methods"].items()) + ".",
           "- Attributions are of each class's logit, reported per original column (one-hot parts summed).",
           *(f"- Skipped {what}: {why}." for what, why in r.get("skipped", {}).items()), ""]
    files = r.get("files", {})
    out += ["## Global importance (top columns per class by mean |attribution|)", ""]
    for m, e in r["methods"].items():
        out.append(f"- **{labels[m]}**: " + "; ".join(f"{c}: {', '.join(cols)}" for c, cols in e["top_columns"].items()))
        if "convergence_delta" in e:
            d = e["convergence_delta"]
            out.append(f"  - convergence delta (sum of attributions minus the logit change): max |delta| "
                       f"{d['max_abs']:.2e}, mean |delta| {d['mean_abs']:.2e}")
    out.append("")
    for key, path in files.get("plots", {}).items():
        if key.startswith("global_"):
            out += [f"![{key}]({path})", ""]
    sanity = r.get("sanity")
    if sanity:
        out += ["## Sanity checks", ""]
        if "agreement" in sanity:
            names = list(sanity["agreement"])
            out += ["Spearman rank correlation of the methods' column rankings:", ""]
            out += _table(["", *[labels[n] for n in names]],
                          [[labels[a], *[_f(sanity["agreement"][a][b], 2) for b in names]] for a in names]) + [""]
        rnd = sanity["randomisation"]
        out.append(f"- Model randomisation ({labels[rnd['method']]}): mean per-row Spearman correlation between the "
                   f"trained and the re-initialised model's attributions is {_f(rnd['mean_row_spearman'], 2)} "
                   f"(of |attributions| {_f(rnd['mean_row_spearman_abs'], 2)}; global ranking "
                   f"{_f(rnd['global_spearman'], 2)}); "
                   + ("**passed** (attributions depend on the weights)." if rnd["passed"] else
                      f"**FAILED**: above {rnd['max_corr']}, the attributions barely depend on the learned weights."))
        lg = sanity.get("logistic_ig_equals_coef_times_input")
        if lg:
            out.append(f"- Logistic check: Integrated Gradients vs coefficient x (input - baseline): max |difference| "
                       f"{lg['max_abs_error']:.2e} (largest term {lg['max_abs_expected']:.2e}): "
                       + ("**passed**." if lg["passed"] else "**FAILED**."))
        out.append("")
    out += ["## Local explanations", ""]
    out += _table(["row", "why chosen", "true", "predicted", "probability"],
                  [[str(x["row_id"]), ", ".join(x["reasons"]), x["true_label"], x["predicted_label"], _f(x["probability"])]
                   for x in r["local_rows"]]) + [""]
    out += [f"See `{artefact('explanation_local').name}` and the plots `plots/local_row*.png`.", ""]
    if "attention" in r:
        a = r["attention"]
        out += ["## Attention", "",
                f"- {a['layers']} layers x {a['heads']} heads. Class-token attention (mean over heads and layers), "
                f"top columns: {', '.join(a['top_columns_cls'])}.",
                f"- Attention rollout, top columns: {', '.join(a['top_columns_rollout'])}.",
                "- Attention shows where the model looks, not how a column moves the prediction; read it beside "
                "the attributions.", "",
                f"![attention]({files['plots']['attention_global']})", "",
                f"![layer x head]({files['plots']['attention_layer_head']})", ""]
    c = r.get("comparison")
    if c:
        out += comparison_lines(c)
    out += ["## Files", ""] + [f"- `{p}`" for p in files.get("tables", {}).values()] + [""]
    return "\n".join(out)


def comparison_lines(c: dict) -> list[str]:
    """The black box against every transparent model: MCC and AUROC with n, their gains, the verdict."""
    pct = f"{c['confidence']:.0%}"

    def ci(lo_hi):
        return f"{_f(lo_hi[0])} to {_f(lo_hi[1])}"

    unit = f"{c['subjects']} subjects, " if c.get("subjects") else ""
    out = ["## Transparent models versus this model", "",
           f"Same {c['split']} rows (n={c['rows']}, {unit}every interval below rests on them); {pct} intervals from "
           f"{c['resamples']} resamples of one {c.get('bootstrap') or 'paired bootstrap'}. The black box is justified "
           "only if its MCC gain over the best transparent model (and every other) lies entirely above 0.", ""]
    n = str(c["rows"]) + (f" ({c['subjects']} subjects)" if c.get("subjects") else "")
    rows = [[f"{c['black_box']['model']} (this run)", n, _f(c["black_box"]["mcc"]), ci(c["black_box"]["ci"]),
             _f(c["black_box"].get("auroc")), ci(c["black_box"].get("auroc_ci") or [None, None]), "", ""]]
    for t in c.get("candidates") or [dict(c["transparent"], difference=c["difference"])]:
        d = t["difference"]
        best = " (best)" if t.get("source") == c["transparent"].get("source") and t["model"] == c["transparent"]["model"] else ""
        rows.append([f"{t['model']}{best}, {t.get('source', 'transparent')}", n, _f(t["mcc"]), ci(t["ci"]),
                     _f(t.get("auroc")), ci(t.get("auroc_ci") or [None, None]),
                     f"{_f(d['mcc'])} ({ci(d['ci'])})", f"{_f(d.get('auroc'))} ({ci(d.get('auroc_ci') or [None, None])})"])
    out += _table(["model", "n", "MCC", f"{pct} CI", "AUROC", f"{pct} CI", "MCC gain of this run", "AUROC gain"], rows)
    out += ["", f"**{c['verdict']}**", ""]
    if c.get("note"):
        out += [c["note"], ""]
    if c.get("odds_ratios"):
        out += ["Odds ratios of the transparent logistic regression (largest effects first):", ""]
        ors = sorted(c["odds_ratios"], key=lambda o: -abs(o["log_odds"]))[:12]
        out += _table(["outcome", "term", "per", "odds ratio"],
                      [[o["outcome"], o["term"], o["per"], _f(o["odds_ratio"])] for o in ors]) + [""]
    return out
