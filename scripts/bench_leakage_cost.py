"""What the two leakage checks that fit models or scan levels cost, against a default `python train.py`.

The multivariate probe (scikit-learn HistGradientBoosting on at most 20,000 sampled training
rows) and the outcome-only level check run by default. This times, in one process:

(a) a default `python train.py` (breast-cancer data, MLP; wall time of the subprocess, which
    includes these checks);
(b) each check on the default run's training split, the coarse synthetic cohort's, and a
    1,000,000-row x 50-column table's (the table of bench_governance.py; the probe samples
    20,000 rows of it);

and prints each check's seconds and its share of (a).

    python scripts/bench_leakage_cost.py [--repeats 3] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from omegaconf import OmegaConf  # noqa: E402

from medtorch.config import LeakageConfig  # noqa: E402
from medtorch.data import sources  # noqa: E402
from medtorch.data.cohort import generate_cohort  # noqa: E402
from medtorch.data.leakage_probe import multivariate_probe  # noqa: E402
from medtorch.data.leakage_signal import outcome_levels  # noqa: E402
from medtorch.data.split import make_split  # noqa: E402


def default_train_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(REPO / "train.py"), f"hydra.run.dir={tmp}/run",
                               "trainer.enable_progress_bar=false"], cwd=tmp, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"python train.py failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return seconds


def time_checks(train, classes, repeats: int) -> tuple[float, float]:
    cfg = OmegaConf.structured(LeakageConfig)
    levels, probe = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        outcome_levels(train, cfg.min_level_n, cfg.level_purity, classes)
        t1 = time.perf_counter()
        multivariate_probe(train, cfg.probe_rows, cfg.probe_margin, 0, classes)
        t2 = time.perf_counter()
        levels.append(t1 - t0)
        probe.append(t2 - t1)
    return statistics.median(levels), statistics.median(probe)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    if args.repeats < 1 or args.rows < 1000:
        ap.error("--repeats must be at least 1 and --rows at least 1000")
    from bench_governance import table

    tables = {}
    raw = sources.load(OmegaConf.create({"source": "breast_cancer"}))
    tables["default run (breast cancer)"] = (make_split(raw, "stratified", 0.7, 0.15, 0.15, 0).train, raw.classes)
    cohort = generate_cohort(coarse=True)
    d = OmegaConf.create({"source": "synthetic_cohort", "target": "outcome", "id_column": "visit_id",
                          "subject_column": "patient_id", "time_column": "visit_date", "categorical": [],
                          "drop": [], "subgroup_columns": [], "cohort": {"coarse": True}})
    raw = sources.load(d)
    tables[f"coarse cohort ({len(cohort)} rows)"] = (
        make_split(raw, "grouped", 0.7, 0.15, 0.15, 0, subject="patient_id").train, raw.classes)
    big = table(args.rows)
    tables[f"{args.rows:,} rows x 50 columns"] = (
        make_split(big, "temporal", 0.7, 0.15, 0.15, 0, subject="subject", time="date").train, big.classes)

    train_s = statistics.median(default_train_seconds() for _ in range(args.repeats))
    print(f"default python train.py: {train_s:.1f} s wall (median of {args.repeats}; includes both checks)")
    print(f"{'training split':34s} {'rows':>8s} {'levels s':>9s} {'% train.py':>10s} {'probe s':>8s} {'% train.py':>10s}")
    for name, (train, classes) in tables.items():
        lv, pr = time_checks(train, classes, args.repeats)
        print(f"{name:34s} {len(train):>8d} {lv:>9.3f} {100 * lv / train_s:>9.1f}% {pr:>8.2f} {100 * pr / train_s:>9.1f}%")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
