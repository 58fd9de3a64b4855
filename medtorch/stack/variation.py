"""Seed-to-seed variation next to differences between stacks (part of ``medtorch compare``).

A difference between two stacks means little until it is set against how much the same
experiment moves from one seed to the next on one stack. Runs are grouped by their
configuration apart from the seed and the keys that only say where a run executes
(``EXECUTION_KEYS``); within a group, by stack fingerprint hash. For each stack the headline
metrics over its seeds are summarised (n, mean, sample standard deviation, range); for each
pair of stacks in a group, the difference of the means, the same-seed differences where both
stacks ran a seed, and the pooled within-stack standard deviation of the seeds.

A Hydra multirun such as ``python train.py -m seed=1,2,3 trainer.num_threads=1,2`` gives
exactly this layout: three seeds on each of two stacks (the thread count is part of the stack
fingerprint).
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np

from medtorch.hashing import sha256_json

# Keys that say where a run executes, not what it is; excluded when grouping runs.
# The process count (devices, nodes, strategy) stays in: under DDP the batch size is per process,
# so a DDP run is a different optimisation, not the same experiment somewhere else.
EXECUTION_KEYS = ("seed", "split.seed", "trainer.accelerator", "trainer.num_threads", "trainer.enable_progress_bar", "ckpt_path")
METRICS = ("mcc", "balanced_accuracy", "auroc")


def _value(x) -> bool:
    """A metric that was computed (AUROC, for one, is absent or NaN on a single-class split)."""
    return x is not None and not math.isnan(x)


def _summary(values: list[float]) -> dict[str, Any]:
    v = np.asarray([x for x in values if _value(x)], dtype=np.float64)
    if not len(v):
        return {"n": 0, "mean": None, "sd": None, "min": None, "max": None}
    return {"n": int(len(v)), "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else None,
            "min": float(v.min()), "max": float(v.max())}


def _pooled_sd(groups: list[list[float]]) -> float | None:
    """sqrt(sum of (n_i - 1) s_i^2 / sum of (n_i - 1)), over the groups with at least two values."""
    num = den = 0.0
    for g in groups:
        v = np.asarray([x for x in g if _value(x)], dtype=np.float64)
        if len(v) > 1:
            num += (len(v) - 1) * v.var(ddof=1)
            den += len(v) - 1
    return math.sqrt(num / den) if den else None


def variation(runs: list[dict[str, Any]], split: str = "val") -> list[dict[str, Any]]:
    """``runs``: ``[{index, seed, stack_hash, config (flat dict), metrics (split -> dict)}]``.

    Returns one entry per configuration group holding at least two runs with ``split`` metrics.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        if not isinstance(r["metrics"].get(split), dict):
            continue
        key = sha256_json({k: v for k, v in sorted(r["config"].items()) if k not in EXECUTION_KEYS})
        groups.setdefault(key, []).append(r)
    out = []
    for key, members in groups.items():
        if len(members) < 2:
            continue
        by_stack: dict[str, list[dict[str, Any]]] = {}
        for r in members:
            by_stack.setdefault(r["stack_hash"] or "none", []).append(r)
        stacks = []
        for stack, rs in by_stack.items():
            stacks.append({
                "stack_hash": stack, "runs": [r["index"] for r in rs], "seeds": [r["seed"] for r in rs],
                "metrics": {m: _summary([r["metrics"][split].get(m) for r in rs]) for m in METRICS},
            })
        between = []
        for a, b in combinations(stacks, 2):
            ra, rb = by_stack[a["stack_hash"]], by_stack[b["stack_hash"]]
            for m in METRICS:
                ma, mb = a["metrics"][m]["mean"], b["metrics"][m]["mean"]
                seeds_a = {r["seed"]: r["metrics"][split].get(m) for r in ra}
                paired = []  # (seed, b - a) for each seed both stacks ran with a value
                for r in rb:
                    va, vb = seeds_a.get(r["seed"]), r["metrics"][split].get(m)
                    if _value(va) and _value(vb):
                        paired.append((r["seed"], vb - va))
                diffs = np.array([d for _, d in paired], dtype=np.float64)
                between.append({
                    "a": a["stack_hash"], "b": b["stack_hash"], "metric": m,
                    "mean_difference": (mb - ma) if ma is not None and mb is not None else None,
                    "same_seed": {"seeds": [s for s, _ in paired],
                                  "mean_difference": float(diffs.mean()) if len(diffs) else None,
                                  "max_abs_difference": float(np.abs(diffs).max()) if len(diffs) else None},
                    "seed_sd": _pooled_sd([[r["metrics"][split].get(m) for r in ra], [r["metrics"][split].get(m) for r in rb]]),
                })
        out.append({"config_sha256": key, "split": split, "stacks": stacks, "between_stacks": between,
                    "measured": measured(members)})
    return out


def measured(members: list[dict[str, Any]]) -> str:
    """Which variance the spread over these runs measures: training (one split), split, or both mixed."""
    if any("split.seed" not in r["config"] for r in members):
        return ("training and split variance together (runs made before split.seed: the split followed seed, "
                "so each seed also drew another split)")
    seeds = {r["seed"] for r in members}
    splits = {r["config"]["split.seed"] for r in members}
    if len(splits) == 1:
        return f"training variance: one split (split.seed={next(iter(splits))}), seeds {sorted(seeds)}"
    if len(seeds) == 1:
        return f"split variance: one training seed ({next(iter(seeds))}), split seeds {sorted(splits)}"
    return f"training and split variance together: seeds {sorted(seeds)} and split seeds {sorted(splits)} both vary"


def to_markdown(groups: list[dict[str, Any]]) -> list[str]:
    def f(v):
        return "n/a" if v is None else f"{v:.4g}"

    out: list[str] = []
    for i, g in enumerate(groups):
        out += [f"## Seeds and stacks: {g['split']} (configuration {i + 1}, `{g['config_sha256'][:12]}`)", "",
                "Runs with the same configuration apart from the seeds and where they ran. Per stack: mean ± sample "
                "SD over the seeds [min, max].", "", f"Variance measured: {g['measured']}.", "",
                "| stack hash | runs | seeds | " + " | ".join(METRICS) + " |", "|---" * (3 + len(METRICS)) + "|"]
        for s in g["stacks"]:
            cells = []
            for m in METRICS:
                x = s["metrics"][m]
                cells.append("n/a" if x["mean"] is None else f"{f(x['mean'])} ± {f(x['sd'])} [{f(x['min'])}, {f(x['max'])}]")
            out.append(f"| `{s['stack_hash'][:16]}` | {', '.join(map(str, s['runs']))} | "
                       f"{', '.join(map(str, s['seeds']))} | " + " | ".join(cells) + " |")
        if g["between_stacks"]:
            out += ["", "Between stacks (second minus first), against the seed-to-seed SD within a stack:", "",
                    "| stacks | metric | difference of means | same-seed differences: mean / max abs (seeds) "
                    "| seed-to-seed SD (pooled) |", "|---|---|---|---|---|"]
            for b in g["between_stacks"]:
                ss = b["same_seed"]
                out.append(f"| `{b['a'][:8]}` → `{b['b'][:8]}` | {b['metric']} | {f(b['mean_difference'])} | "
                           f"{f(ss['mean_difference'])} / {f(ss['max_abs_difference'])} ({len(ss['seeds'])}) | "
                           f"{f(b['seed_sd'])} |")
        out.append("")
    return out
