"""What spec-checked prediction costs, against bare tensor inference on the same rows.

    python scripts/bench_predict.py [--rows 1000000] [--chunk-rows 100000] [--run RUN_DIR]

Trains a small run on a synthetic table (unless --run names one trained on
``scripts/bench_predict.py``'s columns), writes ROWS new rows to a CSV, and times, in one process:

1. bare: the network on the already-preprocessed rows as one tensor (``predict_proba``);
2. checks in memory: data-specification checks + fitted preprocessing + the same inference;
3. ``medtorch predict`` end to end: read the CSV in chunks, check, preprocess, infer, write the
   CSV with provenance columns (``predict_file``); run in a child process so its peak memory
   (max RSS) can be read, for ROWS and for ROWS/5, to show that memory does not grow with
   the input.

It prints each time and the ratios to the bare inference.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def synthetic(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    marker = rng.normal(0, 1, n)
    age = rng.integers(20, 90, n)
    site = rng.choice(["A", "B", "C"], n)
    label = np.where(2.5 * marker + 0.03 * (age - 55) + rng.logistic(0, 0.5, n) > 0, "disease", "healthy")
    return pd.DataFrame({"age": age, "marker": marker, "bmi": rng.normal(26, 4, n).clip(15, 40).round(1),
                         "sex": rng.choice(["F", "M"], n), "site": site, "label": label})


def train(tmp: Path) -> Path:
    synthetic(2000, 0).to_csv(tmp / "train.csv", index=False)
    run = tmp / "run"
    cmd = [sys.executable, str(REPO / "train.py"), "trainer=cpu", "trainer.max_epochs=2", "trainer.enable_progress_bar=false",
           "+experiment=table", f"data.path={tmp / 'train.csv'}", "data.target=label", f"hydra.run.dir={run}",
           "+spec.limits.marker=[-10,10]"]  # a normal marker: wider than 2,000 training rows happen to reach
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return run


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def child_predict(run: Path, src: Path, out: Path, chunk_rows: int) -> tuple[float, float]:
    """Seconds (imports excluded) and peak RSS (MiB) of predict_file in a fresh process.

    The peak is read from /proc/self/status (VmHWM): ru_maxrss would carry over the parent's
    peak across fork and exec on Linux.
    """
    code = ("import sys, time; import torch, pandas, pandera.pandas, pyarrow.csv, medtorch.loading; "
            "from medtorch.deploy.predict import predict_file; t = time.perf_counter(); "
            f"predict_file({str(run)!r}, {str(src)!r}, {str(out)!r}, chunk_rows={chunk_rows}); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
            "print(time.perf_counter() - t, int(hwm) / 1024)")
    proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    secs, rss = proc.stdout.split()
    return float(secs), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--chunk-rows", type=int, default=100_000)
    ap.add_argument("--run", default=None)
    args = ap.parse_args()
    import torch

    from medtorch.deploy.checks import SpecChecker
    from medtorch.deploy.spec import read_run_spec
    from medtorch.loading import load_run
    from medtorch.models.inference import predict_proba

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        run_dir = Path(args.run) if args.run else train(tmp)
        run = load_run(run_dir)
        spec, _ = read_run_spec(run.rd, run.manifest)
        checker = SpecChecker(spec)
        frame = synthetic(args.rows, 1)
        features = frame[spec.names].copy()
        for c in spec.columns:
            if not c.numeric:
                features[c.name] = features[c.name].astype("string")
        x = torch.from_numpy(run.preprocessor.transform(features))

        bare = timed(lambda: predict_proba(run.network, x, 8192))

        def checked() -> None:
            typed, valid, violations = checker.check_rows(features)
            assert valid.all() and not violations
            predict_proba(run.network, run.preprocessor.transform(typed), 8192)

        in_memory = timed(checked)
        src = tmp / "new.csv"
        frame.to_csv(src, index=False)
        small = tmp / "small.csv"
        frame.head(args.rows // 5).to_csv(small, index=False)
        end_to_end, rss = child_predict(run_dir, src, tmp / "out.csv", args.chunk_rows)
        _, rss_small = child_predict(run_dir, small, tmp / "out_small.csv", args.chunk_rows)

    print(f"rows {args.rows:,}, {len(spec.columns)} columns, network {run.spec['model']['name']} "
          f"{run.spec['n_features']}->{run.spec['n_classes']}, torch threads {torch.get_num_threads()}")
    print(f"bare tensor inference                        {bare:8.3f} s")
    print(f"spec checks + preprocessing + inference      {in_memory:8.3f} s   ratio {in_memory / bare:6.2f}x")
    print(f"medtorch predict, CSV in -> CSV out (chunks) {end_to_end:8.3f} s   ratio {end_to_end / bare:6.2f}x")
    print(f"peak memory of predict: {rss:.0f} MiB for {args.rows:,} rows, {rss_small:.0f} MiB for {args.rows // 5:,} rows "
          f"(chunks of {args.chunk_rows:,})")


if __name__ == "__main__":
    main()
