"""What spec-checked prediction costs, against bare tensor inference on the same rows.

    python scripts/bench_predict.py [--rows 1000000] [--chunk-rows 100000] [--repeats 5] [--threads 1]
                                    [--run RUN_DIR] [--memory]

Trains a small run on a synthetic table (unless --run names one trained on
``scripts/bench_predict.py``'s columns), writes ROWS new rows to a CSV, and times, in one process
with the same torch threads:

1. bare: the network on the already-preprocessed rows as one tensor, at the run's
   ``trainer.eval_batch_size`` (``medtorch.models.inference.infer``);
2. checks in memory: data-specification checks + fitted preprocessing + the same inference;
3. ``medtorch predict`` end to end (``predict_file``): verify the run and its stack, read the
   CSV in chunks (pyarrow), check, preprocess, infer, write the CSV with provenance columns.

Bare and end to end are timed in pairs, ``--repeats`` times (alternating which goes first);
the ratio printed is the median of the paired ratios. The machine's load average is printed
with it: on a shared machine the end-to-end command's read-ahead and writer threads compete
with other processes for the cores that would otherwise overlap them with inference. ``--memory`` also runs predict in a child process, for ROWS and ROWS/5,
to show that its peak memory (max RSS) does not grow with the input.
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


def train(tmp: Path, threads: int) -> Path:
    synthetic(2000, 0).to_csv(tmp / "train.csv", index=False)
    run = tmp / "run"
    cmd = [sys.executable, str(REPO / "train.py"), "trainer=cpu", "trainer.max_epochs=2", "trainer.enable_progress_bar=false",
           "+experiment=table", f"data.path={tmp / 'train.csv'}", "data.target=label", f"hydra.run.dir={run}",
           "+spec.limits.marker=[-10,10]"]  # a normal marker: wider than 2,000 training rows happen to reach
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(threads)}  # the stack predict runs on
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return run


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all its threads)."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def child_predict(run: Path, src: Path, out: Path, chunk_rows: int) -> tuple[float, float]:
    """Seconds (imports excluded) and peak RSS (MiB) of predict_file in a fresh process.

    The peak is read from /proc/self/status (VmHWM): ru_maxrss would carry over the parent's
    peak across fork and exec on Linux.
    """
    code = ("import sys, time; import torch, pandas, pandera.pandas, pyarrow.csv, medtorch.stack.gate; "
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
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    ap.add_argument("--run", default=None)
    ap.add_argument("--memory", action="store_true", help="also measure predict's peak memory in a child process")
    args = ap.parse_args()
    import torch

    from medtorch.deploy.checks import SpecChecker
    from medtorch.deploy.predict import predict_file
    from medtorch.deploy.spec import read_run_spec
    from medtorch.models.inference import infer
    from medtorch.stack.gate import require_bridged_stack

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        run_dir = Path(args.run) if args.run else train(tmp, args.threads)
        run = require_bridged_stack(run_dir, "predict")  # bridges this stack once if it needs it
        batch = run.eval_batch_size
        spec, _ = read_run_spec(run.rd, run.manifest)
        checker = SpecChecker(spec)
        frame = synthetic(args.rows, 1)
        features = frame[spec.names].copy()
        for c in spec.columns:
            if not c.numeric:
                features[c.name] = features[c.name].astype("string")
        x = torch.from_numpy(run.preprocessor.transform(features))

        def checked() -> None:
            typed, valid, violations = checker.check_rows(features)
            assert valid.all() and not violations
            infer(run.network, typed, batch, preprocessor=run.preprocessor)

        src, out = tmp / "new.csv", tmp / "out.csv"
        frame.to_csv(src, index=False)
        predict_file(run_dir, src, out, chunk_rows=args.chunk_rows)  # warm-up: first-call costs
        in_memory = timed(checked)[0]
        pairs = []
        load = os.getloadavg()[0]
        for i in range(args.repeats):  # paired, the order alternating so a drift of the machine's load cancels
            if i % 2 == 0:
                bare = timed(lambda: infer(run.network, x, batch))
                end_to_end = timed(lambda: predict_file(run_dir, src, out, chunk_rows=args.chunk_rows))
            else:
                end_to_end = timed(lambda: predict_file(run_dir, src, out, chunk_rows=args.chunk_rows))
                bare = timed(lambda: infer(run.network, x, batch))
            pairs.append((bare, end_to_end))
        load = max(load, os.getloadavg()[0])
        rss = rss_small = None
        if args.memory:
            small = tmp / "small.csv"
            frame.head(args.rows // 5).to_csv(small, index=False)
            _, rss = child_predict(run_dir, src, tmp / "out_child.csv", args.chunk_rows)
            _, rss_small = child_predict(run_dir, small, tmp / "out_small.csv", args.chunk_rows)

    bare = statistics.median(b[0] for b, _ in pairs)
    e2e = statistics.median(e[0] for _, e in pairs)
    ratio = statistics.median(e[0] / b[0] for b, e in pairs)
    cpu = statistics.median(e[1] / b[1] for b, e in pairs)
    print(f"rows {args.rows:,}, {len(spec.columns)} columns, network {run.spec['model']['name']} "
          f"{run.spec['n_features']}->{run.spec['n_classes']}, batch {batch}, torch threads {torch.get_num_threads()}, "
          f"{args.repeats} paired repeats, {os.cpu_count()} CPUs, load average up to {load:.1f}")
    print(f"bare tensor inference                        {bare:8.3f} s")
    print(f"spec checks + preprocessing + inference      {in_memory:8.3f} s   ratio {in_memory / bare:6.2f}x")
    print(f"medtorch predict, CSV in -> CSV out (chunks) {e2e:8.3f} s   ratio {ratio:6.2f}x (median of paired ratios: "
          + ", ".join(f"{e[0] / b[0]:.2f}" for b, e in pairs) + ")")
    print(f"  CPU seconds of predict / of bare inference (all threads; the work, whatever the machine's load): "
          f"{cpu:.2f}x")
    if rss is not None:
        print(f"peak memory of predict: {rss:.0f} MiB for {args.rows:,} rows, {rss_small:.0f} MiB for "
              f"{args.rows // 5:,} rows (chunks of {args.chunk_rows:,})")


if __name__ == "__main__":
    main()
