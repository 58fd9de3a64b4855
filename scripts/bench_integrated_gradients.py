"""Integrated Gradients on 1,000 rows x 50 steps: medtorch's batched call vs Captum row by row.

    python scripts/bench_integrated_gradients.py [--model mlp|logistic|attention] [--rows 1000] [--steps 50] [--internal-batch N]

Both paths compute the same attributions (every class, training-mean baseline) with Captum's
IntegratedGradients on the same network; the script checks that they agree, then prints the
time of each and the ratio. The network has the default experiment's shape (30 inputs, MLP
256-256, 2 classes), with random weights: timing does not depend on training.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="mlp", choices=["mlp", "logistic", "attention"])
    p.add_argument("--rows", type=int, default=1000)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--features", type=int, default=30)
    p.add_argument("--repeats", type=int, default=3, help="batched runs; the median is reported")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--internal-batch", type=int, default=None,
                   help="rows per forward pass of the batched path (default: medtorch's INTERNAL_BATCH)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from captum.attr import IntegratedGradients

    from medtorch.explain.attributions import INTERNAL_BATCH, attribute, make_baselines
    from medtorch.explain.columns import ColumnMap
    from medtorch.models.networks import build_network

    configs = {
        "mlp": dict(name="mlp", hidden=[256, 256], dropout=0.2, activation="relu"),
        "logistic": dict(name="logistic", dropout=0.0),
        "attention": dict(name="attention", d_token=32, n_layers=2, n_heads=4, dropout=0.1, attention_dropout=0.1,
                          ffn_factor=2.0),
    }
    torch.manual_seed(0)
    k = 2
    net = build_network(configs[args.model], args.features, k).eval()
    x = torch.randn(args.rows, args.features)
    base = make_baselines("train_mean", torch.randn(500, args.features), args.rows, 1, 0)
    cmap = ColumnMap.from_sources([f"f{j}" for j in range(args.features)])

    attribute(net, "integrated_gradients", x[:50], k, make_baselines("train_mean", x, 50, 1, 0), cmap, ig_steps=args.steps)
    times = []
    for _ in range(args.repeats):
        r = attribute(net, "integrated_gradients", x, k, base, cmap, ig_steps=args.steps,
                      internal_batch=args.internal_batch or INTERNAL_BATCH)
        times.append(r.seconds)
    batched = statistics.median(times)

    ig = IntegratedGradients(net)
    start = time.perf_counter()
    rows = np.stack([
        np.concatenate([ig.attribute(x[i : i + 1], baselines=base.per_row[i : i + 1], target=c, n_steps=args.steps)
                        .detach().double().numpy() for i in range(args.rows)])
        for c in range(k)
    ])
    one_by_one = time.perf_counter() - start

    err = float(np.abs(rows - r.inputs).max())
    scale = float(np.abs(rows).max())
    assert err <= 1e-4 * scale + 1e-6, f"the two paths disagree: max |difference| {err:.3g} (scale {scale:.3g})"
    print(f"Integrated Gradients, {args.model} model, {args.rows} rows x {args.features} inputs x {args.steps} steps, "
          f"{k} classes, torch threads {torch.get_num_threads()}, internal batch {args.internal_batch or INTERNAL_BATCH}")
    print(f"  medtorch (batched path, median of {args.repeats}): {batched:8.2f} s")
    print(f"  Captum row by row:                       {one_by_one:8.2f} s")
    print(f"  max |difference| {err:.2e} (largest attribution {scale:.2e})")
    print(f"  ratio: {one_by_one / batched:.1f}x faster")


if __name__ == "__main__":
    main()
