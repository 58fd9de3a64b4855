"""End to end: the whole governed ``train.py`` against a lightning-hydra-template-style run.

Both paths read the same generated CSV (default 200,000 rows x 32 numeric features, a binary
label), train the MLP 32-256-256-2 with AdamW, batch 512, for 3 epochs without early stopping,
and each runs as its own Python process, so each pays for its interpreter and its imports:

(a) LHT-style baseline, ``scripts/bench_e2e_lht.py``: pandas, scikit-learn split and scaler,
    ``DataLoader(TensorDataset)``, torchmetrics objects logged every step, CSVLogger. No evidence.
(b) medtorch: ``python train.py +experiment=table`` with every governance step on: the frozen
    acceptance criteria, development fingerprint, split record and sealed test split, the
    registry binding, leakage checks (the multivariate probe included), lineage, EDA with
    plots, the data specification, checkpoints, the monitoring reference, validation metrics
    with bootstrap intervals and the sensitivity analyses, explanations (with their sanity
    checks and the transparent logistic baseline), the bridge reference, the manifest and the
    HTML/PDF report. Its registry is a temporary SQLite file.

The paths run --repeats times in adjacent pairs whose order alternates (a slow spell on the
shared machine then does not always land on the same path). Printed: each pair's times, the
median of the per-pair ratios (b)/(a), and the cost of each step of the medtorch run (the
median over repeats of the gaps between its event-log timestamps: ``startup`` is the
interpreter, imports and Hydra up to the first event, ``exit`` what follows the last one).
The CSV is written to a temporary directory (never committed) and removed afterwards.

    python scripts/bench_e2e.py [--rows 200000] [--features 32] [--epochs 3] [--repeats 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TARGET = "y"
# what the gap before each event of the medtorch run paid for (steps not named here print as their event)
STEP = {
    "run_started": "startup: interpreter, imports, Hydra, config checks",
    "acceptance_frozen": "acceptance criteria frozen",
    "data_loaded": "CSV read, hashed, checked",
    "development_fingerprinted": "development fingerprint",
    "split_made": "split (+ split record)",
    "preprocessing_fitted": "preprocessing fitted",
    "test_sealed": "tensors built, test split sealed",
    "registry_bound": "registry binding",
    "leakage_checked": "leakage checks",
    "rebalancing_planned": "rebalancing plan",
    "lineage_recorded": "lineage",
    "data_explored": "EDA (JSON, Markdown, plots)",
    "data_spec_recorded": "data specification",
    "training_started": "trainer set up",
    "training_finished": "training (Lightning, checkpoints)",
    "model_exported": "best epoch restored, model exported",
    "monitoring_reference_recorded": "monitoring reference",
    "validation_evaluated": "validation metrics, predictions, plots",
    "validation_assessed": "assessment (bootstrap CIs, analyses)",
    "explanation_written": "explanations",
    "bridge_reference_stored": "bridge reference",
    "run_complete": "manifest",
    "report_written": "report (HTML, PDF)",
}


NOT_EVIDENCE = {"run_started", "training_started", "training_finished", "exit"}


def write_csv(path: Path, rows: int, features: int, seed: int = 0) -> None:
    """Gaussian features and a label from a noisy linear score: learnable, not separable."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features), dtype=np.float32)
    w = rng.standard_normal(features)
    y = (x @ w + 0.5 * rng.standard_normal(rows) > 0).astype(np.int64)
    frame = pd.DataFrame(x, columns=[f"x{j:02d}" for j in range(features)])
    frame[TARGET] = y
    frame.to_csv(path, index=False, float_format="%.6g")


def timed(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(wall seconds, start and end as epoch seconds) of one process; its output goes to ``log``."""
    start, wall0 = time.perf_counter(), time.time()
    with log.open("w") as out:
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
    elapsed, wall1 = time.perf_counter() - start, time.time()
    if rc != 0:
        sys.exit(f"bench_e2e: {' '.join(cmd)} exited with {rc}; its output:\n{log.read_text()[-4000:]}")
    return elapsed, wall0, wall1


def baseline_cmd(csv: Path, out: Path, epochs: int) -> list[str]:
    return [sys.executable, str(HERE / "bench_e2e_lht.py"), str(csv), "--target", TARGET, "--epochs", str(epochs),
            "--batch", "512", "--out", str(out)]


def medtorch_cmd(csv: Path, out: Path, epochs: int) -> list[str]:
    return [sys.executable, str(HERE.parent / "train.py"), "+experiment=table", f"data.path={csv}",
            f"data.target={TARGET}", "trainer.batch_size=512", f"trainer.max_epochs={epochs}",
            "early_stopping.enabled=false", "acceptance=standard", f"hydra.run.dir={out}"]


def step_costs(run_dir: Path, start: float, end: float) -> dict[str, float]:
    """Seconds per step of one medtorch run, from the gaps between its events' timestamps."""
    from medtorch.run import RunDir  # the run's paths come from the artefact registry

    def epoch(stamp: str) -> float:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()

    costs: dict[str, float] = {}
    before = start
    for line in RunDir(run_dir).events.read_text().splitlines():
        event = json.loads(line)
        t = epoch(event["time_utc"])
        action = "training_finished" if event["action"] == "checkpoint_saved" else event["action"]
        costs[action] = costs.get(action, 0.0) + (t - before)
        before = t
    costs["exit"] = end - before
    return costs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", default=None, help="keep the CSV, run directories and logs in this directory")
    args = ap.parse_args()
    if min(args.rows, args.features, args.epochs, args.repeats) < 1:
        ap.error("--rows, --features, --epochs and --repeats must each be at least 1")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MEDTORCH_REGISTRY": str(work / "registry.sqlite")}
    try:
        csv = work / "table.csv"
        write_csv(csv, args.rows, args.features)
        pairs, steps = [], []
        for i in range(args.repeats):
            times = {}
            for name in (("lht", "medtorch") if i % 2 == 0 else ("medtorch", "lht")):
                out = work / f"{name}{i}"
                cmd = baseline_cmd(csv, out, args.epochs) if name == "lht" else medtorch_cmd(csv, out, args.epochs)
                times[name], start, end = timed(cmd, work / f"{name}{i}.log", env)
                if name == "medtorch":
                    steps.append(step_costs(out, start, end))
            pairs.append((times["lht"], times["medtorch"]))
            print(f"pair {i + 1}: (a) LHT-style {times['lht']:.2f} s   (b) medtorch {times['medtorch']:.2f} s   "
                  f"ratio {times['medtorch'] / times['lht']:.3f}", flush=True)
        ratios = sorted(m / a for a, m in pairs)
        print(f"workload: {args.rows} rows x {args.features} features (CSV), MLP {args.features}-256-256-2, batch 512, "
              f"{args.epochs} epochs, early stopping off, {args.repeats} pair(s), load average "
              + " ".join(f"{v:.1f}" for v in os.getloadavg()))
        print(f"(a) LHT-style baseline, median {statistics.median(a for a, _ in pairs):.2f} s")
        print(f"(b) medtorch train.py,  median {statistics.median(m for _, m in pairs):.2f} s")
        print(f"ratio (b)/(a), median of the {len(ratios)} paired ratios: {statistics.median(ratios):.3f} "
              f"(range {ratios[0]:.3f}-{ratios[-1]:.3f})")
        print("medtorch run, seconds per step (median over repeats; the gap before each event of the event log):")
        names = list(dict.fromkeys(k for s in steps for k in s))
        for name in names:
            cost = statistics.median(s.get(name, 0.0) for s in steps)
            print(f"  {STEP.get(name, name):<56}{cost:>7.2f}")
        evidence = statistics.median(sum(v for k, v in s.items() if k not in NOT_EVIDENCE) for s in steps)
        print(f"  {'evidence: every step but startup, training and exit':<56}{evidence:>7.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
