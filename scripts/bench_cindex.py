"""Harrell's C-index over N patients: medtorch (numpy merge-sort tree) against lifelines'
``concordance_index`` on the same data, in one process. Prints both times and the ratio.

    python scripts/bench_cindex.py [--n 10000] [--repeats 5]
"""

import argparse
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    if a.n < 2 or a.repeats < 1:
        p.error("--n must be >= 2 and --repeats >= 1")
    from lifelines.utils import concordance_index

    from medtorch.survival.concordance import harrell_c

    rng = np.random.default_rng(0)
    risk = rng.normal(size=a.n)
    t = rng.exponential(np.exp(-risk))
    c = rng.exponential(1.5, size=a.n)
    time_, event = np.round(np.minimum(t, c), 3), (t <= c).astype(int)  # rounded: tied times as in real data

    def best(f) -> float:
        f()  # warm-up
        out = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            f()
            out.append(time.perf_counter() - t0)
        return min(out)

    ours = best(lambda: harrell_c(time_, event, risk))
    ref = best(lambda: concordance_index(time_, -risk, event))
    assert abs(harrell_c(time_, event, risk) - concordance_index(time_, -risk, event)) < 1e-12
    print(f"n={a.n}  medtorch harrell_c {ours * 1e3:.2f} ms   lifelines concordance_index {ref * 1e3:.2f} ms   "
          f"ratio {ours / ref:.2f}x")


if __name__ == "__main__":
    main()
