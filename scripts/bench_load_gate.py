"""What the automatic bridge check costs a load once the stack is cleared.

    python scripts/bench_load_gate.py RUN_DIR [--repeats 20]

Times ``load_run(RUN)`` (verify hashes, rebuild preprocessing and network: the plain
baseline) against ``require_bridged_stack(RUN, "evaluate")`` (the same, plus applying the
numeric settings, the stack fingerprint and the look-up of a passed bridge on record) in one
process, after one warm-up load that runs the bridge if this stack needs it. Prints both and
the ratio, and the cost of one fingerprint on its own.
"""

from __future__ import annotations

import argparse
import time

from medtorch.loading import load_run
from medtorch.stack.fingerprint import collect
from medtorch.stack.gate import require_bridged_stack


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--repeats", type=int, default=20)
    a = p.parse_args()
    require_bridged_stack(a.run, "evaluate")  # warm-up; bridges this stack once if needed
    plain = _best(lambda: load_run(a.run), a.repeats)
    gated = _best(lambda: require_bridged_stack(a.run, "evaluate"), a.repeats)
    fp = _best(collect, a.repeats)
    print(f"load_run (baseline): {plain * 1e3:.1f} ms")
    print(f"require_bridged_stack (settings + fingerprint + bridge record): {gated * 1e3:.1f} ms")
    print(f"ratio: {gated / plain:.2f}x   (fingerprint alone, after its first call in a process: {fp * 1e3:.2f} ms)")


if __name__ == "__main__":
    main()
