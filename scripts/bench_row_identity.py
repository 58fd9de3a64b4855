"""Time the registry's row identities (numpy rounding) against hashing formatted text per row.

    python scripts/bench_row_identity.py [--rows 100000] [--columns 30]

Both give one identity per row of a table of random numbers with magnitudes 1e-8 .. 1e8,
rounded to 6 significant digits; the baseline formats every value with ``f"{x:.6g}"`` and
hashes the joined text of each row with hashlib. Prints both times, the ratio, and whether
both group the rows the same way (rows whose identities are equal in one are equal in the other).
"""

from __future__ import annotations

import argparse
import hashlib
import time

import numpy as np
import pandas as pd

from medtorch.registry.identity import row_identities


def baseline(frame: pd.DataFrame) -> list[str]:
    return [hashlib.sha256("\x1f".join(f"{v:.6g}" for v in row).encode()).hexdigest()[:32]
            for row in frame.itertuples(index=False)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--columns", type=int, default=30)
    a = ap.parse_args()
    if a.rows < 1 or a.columns < 1:
        ap.error("--rows and --columns must be at least 1")
    rng = np.random.default_rng(0)
    values = rng.normal(size=(a.rows, a.columns)) * 10.0 ** rng.integers(-8, 9, (a.rows, a.columns))
    values[: a.rows // 10] = values[a.rows // 2: a.rows // 2 + a.rows // 10] * (1 + 1e-9)  # repeats below the rounding
    frame = pd.DataFrame(values, columns=[f"c{i}" for i in range(a.columns)])
    t = time.perf_counter()
    ours = row_identities(frame, None, None, None, 6)["identities"]
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    base = baseline(frame)
    t_base = time.perf_counter() - t
    same = pd.Series(ours).factorize()[0].tolist() == pd.Series(base).factorize()[0].tolist()
    print(f"{a.rows} rows x {a.columns} columns: medtorch {t_ours:.2f} s, text baseline {t_base:.2f} s, "
          f"ratio {t_base / t_ours:.1f}x; same grouping of rows: {same}")


if __name__ == "__main__":
    main()
