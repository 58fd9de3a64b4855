"""Survival EDA: follow-up time, events and the censoring pattern per split, per subgroup and per
calendar period, with the median follow-up by the reverse Kaplan-Meier method. A calendar split in
which later patients have had less time to be followed shows here as a falling median follow-up
(and is flagged by the survival leakage checks). Summaries only: no row-level data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from medtorch.artefacts import file_part
from medtorch.evidence import Run
from medtorch.survival.data import DURATION
from medtorch.survival.km import kaplan_meier, median_follow_up


def summary(time: np.ndarray, event: np.ndarray) -> dict[str, Any]:
    time, event = np.asarray(time, float), np.asarray(event).astype(int)
    if len(time) == 0:
        return {"n": 0}
    return {"n": int(len(time)), "events": int(event.sum()), "censored": int((event == 0).sum()),
            "censored_fraction": float((event == 0).mean()),
            "median_follow_up_reverse_km": median_follow_up(time, event),
            "median_survival_km": kaplan_meier(time, event).median(),
            "time_min": float(time.min()), "time_median": float(np.median(time)), "time_max": float(time.max()),
            "censored_time_median": float(np.median(time[event == 0])) if (event == 0).any() else None}


def period_of(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.year.astype("Int64").astype(str)
    return values.astype(str)


def explore(cfg, splits) -> dict[str, Any]:
    parts = splits.parts()
    out: dict[str, Any] = {"duration_unit": cfg.data.duration_unit, "splits": {}, "subgroups": {}, "periods": {}}
    for name, part in parts.items():
        out["splits"][name] = summary(part.extra[DURATION].to_numpy(float), part.y)
    for col in cfg.data.subgroup_columns:
        table = {}
        for name, part in parts.items():
            if col not in part.extra:
                continue
            for value, rows in part.extra.groupby(part.extra[col].astype(str)).groups.items():
                idx = np.asarray(rows)
                table.setdefault(str(value), {})[name] = summary(part.extra[DURATION].to_numpy(float)[idx], part.y[idx])
        out["subgroups"][col] = table
    col = cfg.data.time_column
    if col:
        frames = [pd.DataFrame({"period": period_of(p.extra[col]), "t": p.extra[DURATION], "e": p.y, "split": n})
                  for n, p in parts.items() if col in p.extra]
        every = pd.concat(frames, ignore_index=True)
        out["periods"] = {str(k): {**summary(g["t"].to_numpy(float), g["e"].to_numpy()),
                                   "splits": sorted(g["split"].unique().tolist())}
                          for k, g in every.groupby("period")}
    return out


def markdown(eda: dict[str, Any]) -> str:
    u = eda["duration_unit"]

    def row(name, s):
        if not s.get("n"):
            return f"| {name} | 0 | | | | | |"
        mf = s["median_follow_up_reverse_km"]
        return (f"| {name} | {s['n']} | {s['events']} | {s['censored_fraction']:.1%} | "
                f"{'n/a' if np.isnan(mf) else f'{mf:g}'} | {s['time_median']:g} | {s['time_max']:g} |")

    head = (f"| group | n | events | censored | median follow-up (reverse KM, {u}) | median time | max time |\n"
            "|---|---|---|---|---|---|---|")
    lines = ["# Survival data summary", "", "## Per split", "", head]
    lines += [row(n, s) for n, s in eda["splits"].items()]
    for col, table in eda["subgroups"].items():
        lines += ["", f"## Subgroup `{col}`", "", head]
        lines += [row(f"{v} / {split}", s) for v, per in table.items() for split, s in per.items()]
    if eda["periods"]:
        lines += ["", "## Calendar periods (later patients have less follow-up)", "", head]
        lines += [row(f"{p} ({', '.join(s['splits'])})", s) for p, s in eda["periods"].items()]
    return "\n".join(lines) + "\n"


def explore_survival(cfg, splits, run: Run) -> None:
    from medtorch.survival.plots import km_plot

    if not cfg.eda.enabled:
        run.event("data_explored", {"status": "disabled"})
        return
    eda = explore(cfg, splits)
    rd = run.rd
    out = rd.survival_dir
    out.mkdir(parents=True, exist_ok=True)
    plots = []
    if cfg.eda.plots:
        u = cfg.data.duration_unit
        parts = splits.parts()
        plots.append(km_plot({n: (p.extra[DURATION].to_numpy(float), p.y) for n, p in parts.items()},
                             rd.survival("km_splits_plot"), "Kaplan-Meier per split", u))
        for col in cfg.data.subgroup_columns:
            tr = splits.train
            if col in tr.extra:
                values = tr.extra[col].astype(str)
                plots.append(km_plot({v: (tr.extra[DURATION].to_numpy(float)[values.to_numpy() == v],
                                          tr.y[values.to_numpy() == v]) for v in sorted(values.unique())},
                                     rd.at("survival_km_subgroup_plot", column=file_part(col)), f"Kaplan-Meier by {col} (training split)", u))
    run.record_many({rd.survival("eda"): eda, rd.survival("eda_summary"): markdown(eda)}, also=plots,
                    event="data_explored",
                    details={"task": "survival", "events": {n: s.get("events") for n, s in eda["splits"].items()},
                             "median_follow_up": {n: s.get("median_follow_up_reverse_km") for n, s in eda["splits"].items()}})
