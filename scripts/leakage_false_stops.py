"""False stops and false alarms of each leakage check on clean, coarse data, over many seeds.

A careful user's setting: the subject column declared, a grouped split, no leak planted. Two
clean tables: the synthetic cohort with registry-style coarse features (``coarse=True``: age in
whole years, grades, stages, rounded creatinine; identical feature vectors of different patients
occur by coincidence) and a coarse copy of scikit-learn's diabetes table (ages in whole years,
labs rounded; one row per patient, stratified split). For each seed a new cohort (or, for the
diabetes table, a new split) is drawn and every check is run with its default settings.

A "false stop" is a check that would stop the run (status fail); a "false alarm" is a warning.
The target is at most 1 false stop in 50 per check. Also prints the time each check takes.

    python scripts/leakage_false_stops.py [--seeds 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from omegaconf import OmegaConf  # noqa: E402

from medtorch.config import DataConfig, LeakageConfig  # noqa: E402
from medtorch.data import leakage, sources  # noqa: E402
from medtorch.data.cohort import coarse_diabetes  # noqa: E402
from medtorch.data.split import make_split  # noqa: E402


def cohort_split(seed: int):
    d = OmegaConf.structured(DataConfig(name="c", source="synthetic_cohort", target="outcome", id_column="visit_id",
                                        subject_column="patient_id", time_column="visit_date"))
    d.cohort.seed, d.cohort.coarse = seed, True
    raw = sources.load(d)
    return raw, make_split(raw, "grouped", 0.7, 0.15, 0.15, seed, subject="patient_id", time="visit_date"), "patient_id"


def diabetes_split(seed: int, path: Path):
    d = OmegaConf.structured(DataConfig(name="d", source="table", path=str(path), target="progression"))
    raw = sources.load(d)
    return raw, make_split(raw, "stratified", 0.7, 0.15, 0.15, seed), None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=50)
    args = ap.parse_args()
    if args.seeds < 1:
        ap.error("--seeds must be at least 1")
    cfg = OmegaConf.structured(LeakageConfig)
    path = Path(os.environ.get("TMPDIR", "/tmp")) / "medtorch_coarse_diabetes.csv"
    coarse_diabetes().to_csv(path, index=False)
    for name, make in (("coarse synthetic cohort, grouped split", cohort_split),
                       ("coarse diabetes (scikit-learn), stratified split", lambda s: diabetes_split(s, path))):
        stops, alarms, seconds, total = Counter(), Counter(), Counter(), 0.0
        for seed in range(args.seeds):
            raw, split, subject = make(seed)
            t0 = time.perf_counter()
            report = leakage.run_checks(split.parts(), cfg, split.strategy, subject, None, "y", seed=seed,
                                        classes=raw.classes)
            total += time.perf_counter() - t0
            for c in report.checks:
                stops[c.check] += c.status == "fail"
                alarms[c.check] += c.status == "warn"
            for check, sec in _timings(split, cfg, subject, raw.classes, seed).items():
                seconds[check] += sec
        rows = len(raw.y)
        print(f"\n{name}: {args.seeds} seeds, {rows} rows each; all checks {total / args.seeds:.2f} s per run")
        print(f"{'check':22s} {'false stops':>12s} {'false alarms':>13s} {'s per run':>10s}")
        for c in report.checks:
            sec = f"{seconds[c.check] / args.seeds:.3f}" if c.check in seconds else ""
            print(f"{c.check:22s} {stops[c.check]:>5d} / {args.seeds:<4d} {alarms[c.check]:>6d} / {args.seeds:<4d} {sec:>10s}")


def _timings(split, cfg, subject, classes, seed) -> dict[str, float]:
    """Time the two checks that cost most (they run by default)."""
    from medtorch.data.leakage_probe import multivariate_probe
    from medtorch.data.leakage_signal import outcome_levels

    out = {}
    t0 = time.perf_counter()
    outcome_levels(split.train, cfg.min_level_n, cfg.level_purity, classes)
    out["outcome_levels"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    multivariate_probe(split.train, cfg.probe_rows, cfg.probe_margin, seed, classes)
    out["multivariate_probe"] = time.perf_counter() - t0
    return out


if __name__ == "__main__":
    main()
