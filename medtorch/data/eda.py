"""Exploratory data analysis of the split: what the model learns from and is judged on.

Per split: rows, class counts and proportions, missingness per column, numeric summaries and
category frequencies. Representativeness: rows and label rates per subgroup value (sex, age
band, site, ...), compared with reference population shares when the config gives them, with
under-representation beyond the tolerance flagged. The calendar distribution when a time
column exists. The class-imbalance ratio and the mitigation chosen. Written as JSON (``artefact("eda")``),
PNG plots and a Markdown summary; everything is computed on raw (untransformed) values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtorch.artefacts import file_part
from medtorch.data.split import Rows
from medtorch.figures import save_png, subplots


def explore(parts: dict[str, Rows], classes: list[str], subgroups: list[str], time: str | None, cfg: Any,
            balance: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"splits": {}, "representativeness": {}, "calendar": None}
    for name, p in parts.items():
        out["splits"][name] = _describe(p, classes, cfg.top_levels)
    for col in subgroups:
        out["representativeness"][col] = _subgroup(parts, col, classes, dict(cfg.reference.get(col, {})), cfg.tolerance)
    if time:
        from medtorch.data.calendar import refusal

        calendar = _calendar(parts, time, classes)
        periods = sorted({k for c in calendar.values() for k in c})
        if len(periods) == 1:  # one year compares nothing: refused, not reported as a calendar analysis
            rows = sum(v["rows"] for c in calendar.values() for v in c.values())
            out["calendar_refused"] = refusal(time, "year", periods[0], rows)
        else:
            out["calendar"] = calendar
    out["label_rate_shift"] = label_rate_shift(parts, classes, temporal=bool(time))
    counts = np.array(list(out["splits"]["train"]["class_counts"].values()), dtype=float)
    out["class_imbalance"] = {
        "ratio_majority_to_minority": float(counts.max() / counts.min()) if counts.min() > 0 else None,
        "minority_class": classes[int(counts.argmin())],
        "mitigation": balance,
    }
    return out


def _describe(p: Rows, classes: list[str], top: int) -> dict[str, Any]:
    counts = np.bincount(p.y, minlength=len(classes))
    f = p.frame
    num = [c for c in f.columns if pd.api.types.is_numeric_dtype(f[c]) and not pd.api.types.is_bool_dtype(f[c])]
    cat = [c for c in f.columns if c not in num]
    numeric: dict[str, Any] = {}
    for c in num if len(p) else []:
        x = f[c].to_numpy(dtype=np.float64, na_value=np.nan)
        x = x[~np.isnan(x)]
        if len(x) == 0:
            numeric[c] = {"mean": None, "sd": None, "min": None, "p25": None, "median": None, "p75": None, "max": None}
            continue
        q = np.percentile(x, [0, 25, 50, 75, 100])  # partition-based: linear time per column
        numeric[c] = {"mean": float(x.mean()), "sd": float(x.std()), "min": q[0], "p25": q[1], "median": q[2],
                      "p75": q[3], "max": q[4]}
    categories = {}
    for c in cat:
        vc = f[c].value_counts(dropna=True)
        categories[c] = {"levels": int(len(vc)), "top": {str(k): int(v) for k, v in vc.head(top).items()}}
    n = max(len(p), 1)
    return {
        "rows": len(p),
        "class_counts": {c: int(k) for c, k in zip(classes, counts)},
        "class_proportions": {c: round(float(k) / n, 4) for c, k in zip(classes, counts)},
        "missing_share": {c: round(float(v), 4) for c, v in f.isna().mean().items()},
        "numeric": numeric,
        "categories": categories,
    }


def _subgroup(parts: dict[str, Rows], col: str, classes: list[str], reference: dict[str, float],
              tolerance: float) -> dict[str, Any]:
    out: dict[str, Any] = {"reference": reference, "tolerance": tolerance, "splits": {}, "under_represented": []}
    for name, p in parts.items():
        codes, levels = pd.factorize(p.extra[col], use_na_sentinel=False) if col in p.extra else ([], [])
        names = ["<missing>" if pd.isna(v) else str(v) for v in levels]
        table = np.bincount(np.asarray(codes, dtype=np.int64) * len(classes) + p.y,
                            minlength=len(names) * len(classes)).reshape(len(names), len(classes))
        rows = {}
        for i in sorted(range(len(names)), key=lambda i: names[i]):
            level, k = names[i], int(table[i].sum())
            rows[level] = {"rows": k, "share": round(k / max(len(p), 1), 4),
                           "label_rates": {c: round(float(r) / max(k, 1), 4) for c, r in zip(classes, table[i])}}
            ref = reference.get(level)
            if ref is not None and rows[level]["share"] < (1 - tolerance) * ref:
                out["under_represented"].append({"split": name, "value": level, "share": rows[level]["share"],
                                                 "reference": ref})
        for level, ref in reference.items():
            if level not in rows and ref > 0:
                out["under_represented"].append({"split": name, "value": level, "share": 0.0, "reference": ref})
        out["splits"][name] = rows
    return out


def _calendar(parts: dict[str, Rows], time: str, classes: list[str]) -> dict[str, Any]:
    out = {}
    for name, p in parts.items():
        t = p.extra[time]
        period = t.dt.year if pd.api.types.is_datetime64_any_dtype(t) else t
        table = pd.crosstab(period.to_numpy(), p.y).reindex(columns=range(len(classes)), fill_value=0)
        rows = table.sum(axis=1)
        out[name] = {str(idx): {"rows": int(rows[idx]),
                                "label_rates": {c: round(float(table.loc[idx, k] / rows[idx]), 4)
                                                for k, c in enumerate(classes)}}
                     for idx in table.index}
    return out


SHIFT_RATIO = 1.5  # a class rate that changes by this factor (either way) between splits ...
SHIFT_ALPHA = 0.01  # ... and beyond chance (Fisher's exact test, two-sided) is reported


def label_rate_shift(parts: dict[str, Rows], classes: list[str], temporal: bool) -> dict[str, Any]:
    """Each class's label rate in training against each later split; a rate that moves by
    ``SHIFT_RATIO`` or more (e.g. halves from the training period to the test period), beyond
    chance, is flagged: the model is judged on a population unlike the one it learned from."""
    from scipy.stats import fisher_exact

    train = parts["train"]
    base = np.bincount(train.y, minlength=len(classes))
    flagged = []
    for name, p in parts.items():
        if name == "train" or len(p) == 0 or len(train) == 0:
            continue
        counts = np.bincount(p.y, minlength=len(classes))
        for k, c in enumerate(classes):
            r0, r1 = base[k] / len(train), counts[k] / len(p)
            ratio = (r1 / r0) if r0 > 0 else float("inf") if r1 > 0 else 1.0
            if ratio >= SHIFT_RATIO or ratio <= 1 / SHIFT_RATIO:
                pv = float(fisher_exact([[base[k], len(train) - base[k]], [counts[k], len(p) - counts[k]]])[1])
                if pv < SHIFT_ALPHA:
                    flagged.append({"class": c, "split": name, "train_rate": round(float(r0), 4),
                                    "rate": round(float(r1), 4), "ratio": round(float(ratio), 3), "p_value": pv})
    return {"temporal": temporal, "ratio": SHIFT_RATIO, "alpha": SHIFT_ALPHA, "flagged": flagged}


def eda_markdown(eda: dict[str, Any], limitations: str | None, mixup_limitations: str | None = None) -> str:
    classes = list(eda["splits"]["train"]["class_counts"])
    out = ["# Exploratory data analysis", "", "## Splits and classes", "",
           "| split | rows | " + " | ".join(classes) + " |", "|---|---|" + "---|" * len(classes)]
    for name, s in eda["splits"].items():
        out.append(f"| {name} | {s['rows']} | " + " | ".join(
            f"{s['class_counts'][c]} ({s['class_proportions'][c]:.1%})" for c in classes) + " |")
    ci = eda["class_imbalance"]
    ratio = ci["ratio_majority_to_minority"]
    out += ["", f"Class imbalance (train): majority/minority = {ratio:.2f} (minority class `{ci['minority_class']}`)."
            if ratio else "", "", "Mitigation chosen: "
            + ", ".join(f"{k} = {v}" for k, v in ci["mitigation"].items()
                        if k in ("class_weights", "oversample", "oversample_subgroups", "augmentation", "mixup_alpha")) + "."]
    if limitations:
        aug = ci["mitigation"].get("augmentation", "none")
        out += ["", f"Tabular augmentation: {aug}{' (off by default)' if aug == 'none' else ''}. "
                f"Limitations of the augmentation: {limitations}"]
    if mixup_limitations:
        alpha = ci["mitigation"].get("mixup_alpha", 0.0)
        out += ["", f"Mixup: {'alpha = ' + str(alpha) if alpha else 'off (off by default)'}. "
                f"Limitations of mixup: {mixup_limitations}"]
    miss = {c: v for c, v in eda["splits"]["train"]["missing_share"].items() if v > 0}
    out += ["", "## Missing values (train)", ""]
    out += [f"- `{c}`: {v:.1%}" for c, v in sorted(miss.items(), key=lambda kv: -kv[1])] or ["- none"]
    out += ["", "## Representativeness", ""]
    for col, r in eda["representativeness"].items():
        out += [f"### {col}", "", "| value | " + " | ".join(r["splits"]) + " | reference |",
                "|---|" + "---|" * (len(r["splits"]) + 1)]
        levels = sorted({lv for s in r["splits"].values() for lv in s} | set(r["reference"]))
        for lv in levels:
            cells = [f"{s[lv]['rows']} ({s[lv]['share']:.1%})" if lv in s else "0" for s in r["splits"].values()]
            ref = r["reference"].get(lv)
            out.append(f"| {lv} | " + " | ".join(cells) + f" | {'' if ref is None else f'{ref:.1%}'} |")
        out += ["", f"Label rates by {col}:", "", "| value | " + " | ".join(r["splits"]) + " |",
                "|---|" + "---|" * len(r["splits"])]
        for lv in sorted({lv for sp in r["splits"].values() for lv in sp}):
            cells = [", ".join(f"{c} {v:.1%}" for c, v in sp[lv]["label_rates"].items()) if lv in sp else ""
                     for sp in r["splits"].values()]
            out.append(f"| {lv} | " + " | ".join(cells) + " |")
        flags = r["under_represented"]
        out += [""] + ([f"- **under-represented**: {f['value']} in {f['split']} ({f['share']:.1%} vs reference "
                        f"{f['reference']:.1%})" for f in flags] or ["- no under-representation flagged"
                                                                       + ("" if r["reference"] else " (no reference given)")])
        out.append("")
    if eda["calendar"]:
        out += ["## Calendar distribution (rows per period)", ""]
        for name, c in eda["calendar"].items():
            out.append(f"- {name}: " + ", ".join(f"{k}: {v['rows']}" for k, v in c.items()))
        out.append("")
    if eda.get("calendar_refused"):
        out += ["## Calendar distribution", "", f"- {eda['calendar_refused']}", ""]
    shift = eda.get("label_rate_shift")
    if shift:
        where = "from the training period to later periods" if shift["temporal"] else "between splits"
        out += ["## Label rates across splits", ""]
        out += [f"- **label rate shift**: `{f['class']}` moves from {f['train_rate']:.1%} (train) to {f['rate']:.1%} "
                f"({f['split']}), x{f['ratio']:.2f} (Fisher's exact test p={f['p_value']:.2g}); the model is judged on a "
                "population whose outcome rate differs from the one it learned from" for f in shift["flagged"]] or [
                f"- no class's label rate moves by x{shift['ratio']} or more {where} (Fisher's exact test, "
                f"p < {shift['alpha']})"]
    return "\n".join(out) + "\n"


def eda_plots(eda: dict[str, Any], path_for) -> list[Path]:
    """Class proportions per split, missingness, subgroup shares and the calendar, as PNGs."""

    def save(fig, name: str) -> Path:
        return save_png(fig, path_for(name), dpi=100, bbox_inches="tight")

    paths = []
    splits = eda["splits"]
    classes = list(splits["train"]["class_counts"])
    fig, ax = subplots(figsize=(6, 3.5))
    width = 0.8 / len(splits)
    for i, (name, s) in enumerate(splits.items()):
        ax.bar(np.arange(len(classes)) + i * width, [s["class_proportions"][c] for c in classes], width, label=name)
    ax.set_xticks(np.arange(len(classes)) + 0.4 - width / 2, classes)
    ax.set_ylabel("share of rows"), ax.set_title("Class proportions per split")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside the axes: balanced classes leave no free corner
    paths.append(save(fig, "classes"))
    miss = sorted(((c, v) for c, v in splits["train"]["missing_share"].items() if v > 0), key=lambda kv: -kv[1])[:30]
    if miss:  # nothing missing: no empty chart (the EDA summary and the report say so in a sentence)
        fig, ax = subplots(figsize=(6, 0.25 * len(miss) + 1))
        ax.barh([c for c, _ in miss][::-1], [v for _, v in miss][::-1])
        ax.set_xlim(0, max(v for _, v in miss) * 1.1)
        ax.set_xlabel("share missing (train)"), ax.set_title("Missing values")
        paths.append(save(fig, "missingness"))
    for col, r in eda["representativeness"].items():
        levels = sorted({lv for s in r["splits"].values() for lv in s} | set(r["reference"]))
        fig, ax = subplots(figsize=(6, 3.5))
        series = {**{n: [s.get(lv, {}).get("share", 0) for lv in levels] for n, s in r["splits"].items()},
                  **({"reference": [r["reference"].get(lv, 0) for lv in levels]} if r["reference"] else {})}
        width = 0.8 / len(series)
        for i, (name, vals) in enumerate(series.items()):
            ax.bar(np.arange(len(levels)) + i * width, vals, width, label=name)
        ax.set_xticks(np.arange(len(levels)) + 0.4 - width / 2, levels)
        ax.set_ylabel("share of rows"), ax.set_title(f"Representativeness: {col}")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside the axes: never over a bar
        paths.append(save(fig, f"subgroup_{file_part(col)}"))
    if eda["calendar"]:
        fig, ax = subplots(figsize=(6, 3.5))
        periods = sorted({k for c in eda["calendar"].values() for k in c})
        bottom = np.zeros(len(periods))
        for name, c in eda["calendar"].items():  # stacked: each period's rows split by split
            rows = np.array([c.get(k, {"rows": 0})["rows"] for k in periods], dtype=float)
            ax.bar(periods, rows, bottom=bottom, label=name)
            bottom += rows
        ax.set_ylim(0, max(float(bottom.max()), 1.0) * 1.08)  # the tallest stacked bar fits
        ax.set_ylabel("rows"), ax.set_title("Calendar distribution (stacked by split)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        paths.append(save(fig, "calendar"))
    return paths
