"""Leakage checks + EDA versus one training epoch, on the same table of ROWS x 50 columns.

    python scripts/bench_governance.py [--rows 1000000] [--threads 2]

Builds a clinical-like table in memory (40 numeric columns with missing values, 10 text
category columns, a subject id, a visit date, three classes), splits it in time with
medtorch, then times (a) medtorch's leakage checks and EDA (JSON, Markdown and PNG plots)
and (b) one epoch of a plain PyTorch loop (MLP in-256-256-3, AdamW, batch 512, batches as
index slices) over the training split. Prints both times and their ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import OmegaConf

from medtorch.config import EDAConfig, LeakageConfig
from medtorch.data.eda import eda_markdown, eda_plots, explore
from medtorch.data.leakage import run_checks
from medtorch.data.sources import RawTable
from medtorch.data.split import make_split
from medtorch.data.transforms import TabularPreprocessor


def table(rows: int, seed: int = 0) -> RawTable:
    rng = np.random.default_rng(seed)
    cols = {}
    signal = np.zeros(rows)
    for j in range(40):
        x = rng.normal(0, 1, rows)
        signal += x * (0.3 if j < 5 else 0.0)
        x[rng.random(rows) < 0.05] = np.nan
        cols[f"num_{j}"] = x
    for j in range(10):
        levels = np.array([f"level_{k}" for k in range(3 + j)], dtype=object)
        cols[f"cat_{j}"] = levels[rng.integers(0, len(levels), rows)]
    y = np.digitize(signal + rng.normal(0, 1, rows), [0.3, 1.8]).astype(np.int64)
    day = np.sort(rng.integers(0, 6 * 365, rows))
    subject = np.arange(rows) // 3  # about three visits per subject, close in time
    date = pd.Timestamp("2015-01-01") + pd.to_timedelta(day, unit="D")
    sex = np.array(["F", "M"], dtype=object)[rng.integers(0, 2, rows)]
    extra = pd.DataFrame({"subject": subject, "date": date, "sex": sex})
    return RawTable(pd.DataFrame(cols), y, ["low", "mid", "high"], np.arange(rows), {"kind": "benchmark"}, extra)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    raw = table(args.rows)
    splits = make_split(raw, "temporal", 0.7, 0.15, 0.15, 0, subject="subject", time="date")
    print(f"table {args.rows} rows x {raw.frame.shape[1]} feature columns; train {len(splits.train)}, "
          f"val {len(splits.val)}, test {len(splits.test)} rows")

    t0 = time.perf_counter()
    report = run_checks(splits.parts(), OmegaConf.structured(LeakageConfig), "temporal", "subject", "date", None)
    t1 = time.perf_counter()
    eda = explore(splits.parts(), raw.classes, ["sex"], "date", OmegaConf.structured(EDAConfig), {"oversample": "none"})
    eda_markdown(eda, None)
    with tempfile.TemporaryDirectory() as tmp:
        eda_plots(eda, lambda name: Path(tmp) / f"{name}.png")
    t2 = time.perf_counter()
    print(f"leakage checks: {t1 - t0:.2f} s (status {report.status}: "
          + ", ".join(f"{c.check} {c.status}" for c in report.checks) + ")")
    print(f"EDA (JSON + Markdown + PNG plots): {t2 - t1:.2f} s")

    prep = TabularPreprocessor().fit(splits.train)
    x = torch.from_numpy(prep.transform(splits.train.frame))
    y = torch.from_numpy(splits.train.y)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 3))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    t3 = time.perf_counter()
    for idx in torch.randperm(len(y), generator=g).split(512):
        loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    t4 = time.perf_counter()
    checks_eda, epoch = t2 - t0, t4 - t3
    print(f"one training epoch (plain PyTorch loop, {len(y)} rows, batch 512): {epoch:.2f} s")
    print(f"checks + EDA take {checks_eda:.2f} s = {checks_eda / epoch:.2f} x one epoch "
          f"(epoch / (checks + EDA) = {epoch / checks_eda:.1f}); torch threads {args.threads}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
