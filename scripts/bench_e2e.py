"""End to end: the whole governed ``train.py`` against a lightning-hydra-template-style run.

Both paths read the same generated CSV (default 200,000 rows x 32 numeric features, a binary
label), train the MLP 32-256-256-2 with AdamW, batch 512, for 3 epochs without early stopping,
and each runs as its own Python process, so each pays for its interpreter and its imports:

(a) LHT-style baseline, ``scripts/bench_e2e_lht.py``: pandas, scikit-learn split and scaler,
    ``DataLoader(TensorDataset)``, torchmetrics objects logged every step, CSVLogger. No evidence.

The CSV is written to a temporary directory (never committed) and removed afterwards.

    python scripts/bench_e2e.py [--rows 200000] [--features 32] [--epochs 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TARGET = "y"


def write_csv(path: Path, rows: int, features: int, seed: int = 0) -> None:
    """Gaussian features and a label from a noisy linear score: learnable, not separable."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features), dtype=np.float32)
    w = rng.standard_normal(features)
    y = (x @ w + 0.5 * rng.standard_normal(rows) > 0).astype(np.int64)
    frame = pd.DataFrame(x, columns=[f"x{j:02d}" for j in range(features)])
    frame[TARGET] = y
    frame.to_csv(path, index=False, float_format="%.6g")


def timed(cmd: list[str], log: Path) -> float:
    """Wall time of one process; its output goes to ``log`` (shown if it fails)."""
    start = time.perf_counter()
    with log.open("w") as out:
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode
    elapsed = time.perf_counter() - start
    if rc != 0:
        sys.exit(f"bench_e2e: {' '.join(cmd)} exited with {rc}; its output:\n{log.read_text()[-4000:]}")
    return elapsed


def baseline_cmd(csv: Path, out: Path, epochs: int) -> list[str]:
    return [sys.executable, str(HERE / "bench_e2e_lht.py"), str(csv), "--target", TARGET, "--epochs", str(epochs),
            "--batch", "512", "--out", str(out)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if min(args.rows, args.features, args.epochs, args.repeats) < 1:
        ap.error("--rows, --features, --epochs and --repeats must each be at least 1")
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    try:
        csv = work / "table.csv"
        write_csv(csv, args.rows, args.features)
        times = [timed(baseline_cmd(csv, work / f"lht{i}", args.epochs), work / f"lht{i}.log")
                 for i in range(args.repeats)]
        print(f"(a) LHT-style baseline: " + ", ".join(f"{t:.2f} s" for t in times))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
