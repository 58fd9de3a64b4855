"""Runs side by side: stack fingerprint diff, config diff, metrics, and per-sample agreement.

Used to compare one experiment trained on different stacks, seeds (a Hydra multirun: pass
its sweep directory and every job in it is taken) or configurations. The first run is the
baseline every other run is diffed against; agreement is computed for every pair of runs on
the rows their prediction files share (``rd.predictions(split)``, matched by ``row_id``).
Confidence intervals are shown where a run holds them (its assessment of the split or
the metrics record's ``<split>.ci``: ``<metric>: {lower, upper}``). Runs that share a
configuration apart from the seed are summarised per stack, seed-to-seed spread beside the
differences between stacks (``medtorch.stack.variation``).
"""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from medtorch.errors import MedtorchError
from medtorch.run import RunDir, not_a_directory, read_json
from medtorch.stack.fingerprint import diff, flatten
from medtorch.stack.variation import variation

SPLITS = ("val", "test")
HEADLINE = ("mcc", "balanced_accuracy", "auroc", "accuracy")


def _natural(path: Path) -> list:
    """job2 before job10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def expand_runs(paths: list[str]) -> list[Path]:
    """Run directories from the arguments; a directory without a manifest contributes the runs under it."""
    out: list[Path] = []
    for p in map(Path, paths):
        if RunDir(p).manifest.is_file():
            out.append(p)
        elif p.is_dir():
            name = RunDir(p).manifest.name
            found = sorted({m.parent for m in p.glob(f"**/{name}")}, key=_natural)
            if not found:
                raise MedtorchError(f"{p}: neither a run directory nor a directory holding runs (no {name} in it).")
            out.extend(found)
        else:
            raise MedtorchError(not_a_directory(Path(p)))
    if len(out) < 2:
        raise MedtorchError(f"compare needs at least two runs; got {len(out)} ({', '.join(map(str, out)) or 'none'}).")
    return out


def _load(path: Path) -> dict[str, Any]:
    import io

    import pandas as pd
    from omegaconf import OmegaConf

    from medtorch.evidence import Run

    rd = RunDir(path).require()
    run = Run.open(rd.root)  # every read below is checked against the hash the run recorded (a changed file: EXIT_INTEGRITY)
    manifest = run.read_json(rd.manifest)
    recorded = manifest.get("artefacts", {})

    def read(f: Path) -> bytes:  # a recorded file once its hash matches; an older run's unrecorded one as it is
        return run.read_bytes(f) if run.rel(f) in recorded else f.read_bytes()

    def json_of(f: Path) -> dict[str, Any]:  # likewise; JSON that is not JSON is corrupt either way
        return run.read_json(f) if run.rel(f) in recorded else read_json(f)

    preds = {split: pd.read_csv(io.BytesIO(read(f))) for split in SPLITS if (f := rd.predictions(split)).is_file()}
    # confidence intervals: the split's assessment (bootstrap, medtorch.evaluation) when the run has one
    cis = {split: json_of(f).get("ci") for split in SPLITS if (f := rd.assessment(split)).is_file()}
    config = OmegaConf.create(run.read_bytes(rd.config).decode("utf-8"))
    return {"path": str(path), "manifest": manifest, "metrics": run.read_json(rd.metrics), "ci": cis,
            "config": OmegaConf.to_container(config, resolve=True), "predictions": preds}


def _metrics_row(split_metrics: dict[str, Any], ci: dict[str, Any] | None) -> dict[str, Any]:
    ci = ci or split_metrics.get("ci") or {}
    row = {}
    for k in HEADLINE:
        c = ci.get(k) if isinstance(ci, dict) else None
        row[k] = {"value": split_metrics.get(k),
                  "ci": [c.get("lower"), c.get("upper")] if isinstance(c, dict) else None}
    row["per_class"] = {name: {"sensitivity": m.get("sensitivity"), "specificity": m.get("specificity")}
                        for name, m in (split_metrics.get("per_class") or {}).items()}
    return row


def _agreement(a, b) -> dict[str, Any] | None:
    merged = a.merge(b, on="row_id", suffixes=("_a", "_b"))
    if merged.empty:
        return None
    differ = merged["predicted_label_a"].astype(str) != merged["predicted_label_b"].astype(str)
    probs = [c[: -2] for c in merged.columns if c.startswith("prob_") and c.endswith("_a") and c[:-2] + "_b" in merged]
    max_diff = max((float(np.abs(merged[p + "_a"] - merged[p + "_b"]).max()) for p in probs), default=None)
    return {"shared_rows": int(len(merged)), "differ": int(differ.sum()), "share_differ": float(differ.mean()),
            "max_abs_prob_diff": max_diff}


def compare_runs(paths: list[str]) -> dict[str, Any]:
    runs = [_load(p) for p in expand_runs(paths)]
    base = runs[0]
    out: dict[str, Any] = {"baseline": base["path"], "runs": [], "metrics": {}, "agreement": []}
    for i, r in enumerate(runs):
        m = r["manifest"]
        flat_a, flat_b = flatten(base["config"]), flatten(r["config"])
        config_changes = [{"key": k, "baseline": flat_a.get(k), "run": flat_b.get(k)}
                          for k in sorted(set(flat_a) | set(flat_b)) if flat_a.get(k) != flat_b.get(k)]
        out["runs"].append({
            "index": i, "path": r["path"], "run_id": m.get("run_id"), "experiment": m.get("experiment"),
            "seed": m.get("seed"), "stack_hash": (m.get("stack") or {}).get("hash"),
            "stack_changes": diff(base["manifest"].get("stack"), m.get("stack")) if i else [],
            "config_changes": config_changes if i else [],
        })
    for split in SPLITS:
        rows = [(i, r["metrics"].get(split)) for i, r in enumerate(runs)]
        if any(isinstance(s, dict) for _, s in rows):
            out["metrics"][split] = [{"index": i, **_metrics_row(s, runs[i]["ci"].get(split))} if isinstance(s, dict)
                                     else {"index": i} for i, s in rows]
    flat = [{"index": i, "seed": r["manifest"].get("seed"), "stack_hash": (r["manifest"].get("stack") or {}).get("hash"),
             "config": flatten(r["config"]), "metrics": r["metrics"]} for i, r in enumerate(runs)]
    out["variation"] = [g for split in SPLITS for g in variation(flat, split)]
    for (i, a), (j, b) in combinations(enumerate(runs), 2):
        for split in SPLITS:
            if split in a["predictions"] and split in b["predictions"]:
                agree = _agreement(a["predictions"][split], b["predictions"][split])
                if agree:
                    out["agreement"].append({"a": i, "b": j, "split": split, **agree})
    return out
