"""Leakage checks specific to time-to-event data, run after the split with the general checks
(``medtorch.data.leakage``, with the event indicator as the label).

- ``follow_up_feature``: a numeric feature that is the follow-up time or derived from it. Among the
  censored training patients the follow-up time is set by when the study stopped, not by the disease,
  so a baseline feature has no business tracking it; a Spearman |rho| at or above
  ``FAIL_RHO`` fails, at or above ``WARN_RHO`` warns.
- ``post_baseline_names``: feature names that say they were measured after baseline (follow-up,
  last visit, days to, death, relapse, ...): a warning to review, since names can mislead both ways.
- ``calendar_follow_up``: with a calendar column, validation or test patients (later ones in a
  temporal split) whose median follow-up (reverse Kaplan-Meier) is under ``SHORT_FOLLOW_UP`` of the
  training patients': horizon metrics on them rest on fewer patients of known status. A warning;
  the survival EDA shows follow-up per calendar period.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from medtorch.data.leakage import ORDER, CheckResult, LeakageReport, run_checks
from medtorch.evidence import Run
from medtorch.survival.data import DURATION
from medtorch.survival.km import median_follow_up

FAIL_RHO, WARN_RHO = 0.95, 0.8
SHORT_FOLLOW_UP = 0.75
MIN_CENSORED = 10
POST_BASELINE = re.compile(r"(follow|_fu$|^fu_|last_?visit|last_?contact|days?_?to|time_?to|months?_?to|death|died|"
                           r"dead|deceased|relapse|recurr|progress|censor|status|outcome|discharge|post_?op|after)",
                           re.IGNORECASE)


def follow_up_feature(train, duration_name: str) -> CheckResult:
    censored = train.y == 0
    if censored.sum() < MIN_CENSORED:
        return CheckResult("follow_up_feature", "skipped", f"fewer than {MIN_CENSORED} censored training patients")
    t = pd.Series(train.extra[DURATION].to_numpy(float)[censored])
    num = train.frame.loc[censored].select_dtypes("number").reset_index(drop=True)
    rho = num.rank().corrwith(t.rank()).abs().dropna().sort_values(ascending=False)  # Spearman: Pearson of ranks
    top = {c: round(float(v), 4) for c, v in rho.head(5).items()}
    fail = [c for c, v in rho.items() if v >= FAIL_RHO]
    warn = [c for c, v in rho.items() if WARN_RHO <= v < FAIL_RHO]
    if fail:
        return CheckResult("follow_up_feature", "fail", f"feature(s) {fail} track the follow-up time "
                           f"{duration_name!r} among censored patients (|Spearman rho| >= {FAIL_RHO}): the duration or "
                           "something derived from follow-up; drop them (data.drop)", {"abs_spearman_rho": top})
    if warn:
        return CheckResult("follow_up_feature", "warn", f"feature(s) {warn} correlate with the follow-up time among "
                           f"censored patients (|Spearman rho| >= {WARN_RHO}); check they are measured at baseline",
                           {"abs_spearman_rho": top})
    return CheckResult("follow_up_feature", "pass", f"no feature tracks the follow-up time among the "
                       f"{int(censored.sum())} censored training patients (largest |rho| "
                       f"{max(top.values(), default=0):.2f})", {"abs_spearman_rho": top})


def post_baseline_names(columns: list[str]) -> CheckResult:
    hits = [c for c in columns if POST_BASELINE.search(c)]
    if hits:
        return CheckResult("post_baseline_names", "warn", f"feature name(s) {hits} suggest values measured after "
                           "baseline (follow-up, outcome, event timing); confirm they are known at time zero or drop "
                           "them", {"columns": hits})
    return CheckResult("post_baseline_names", "pass", "no feature name suggests a post-baseline measurement")


def calendar_follow_up(parts, time_column: str | None) -> CheckResult:
    if not time_column:
        return CheckResult("calendar_follow_up", "skipped", "no data.time_column")
    med = {n: median_follow_up(p.extra[DURATION].to_numpy(float), p.y) for n, p in parts.items() if len(p.y)}
    ref = med.get("train", float("nan"))
    short = [n for n, v in med.items() if n != "train" and np.isfinite(ref) and
             (not np.isfinite(v) or v < SHORT_FOLLOW_UP * ref)]
    evidence = {"median_follow_up_reverse_km": {n: (None if not np.isfinite(v) else v) for n, v in med.items()}}
    if short:
        return CheckResult("calendar_follow_up", "warn", f"the {', '.join(short)} patients have a median follow-up "
                           f"under {SHORT_FOLLOW_UP:.0%} of the training patients' ({evidence}); later patients have "
                           "had less time to have an event, so horizon metrics on them rest on fewer known outcomes",
                           evidence)
    return CheckResult("calendar_follow_up", "pass", "follow-up is comparable across splits", evidence)


def check_survival_leakage(cfg, splits, run: Run) -> LeakageReport | None:
    from medtorch.data.governance import LeakageError

    rd = run.rd
    if not cfg.leakage.enabled:
        run.event("leakage_checked", {"status": "disabled"})
        return None
    parts = splits.parts()
    general = run_checks(parts, cfg.leakage, splits.strategy, cfg.data.subject_column, cfg.data.time_column,
                         cfg.data.event_column)
    checks = [*general.checks, follow_up_feature(splits.train, cfg.data.duration_column),
              post_baseline_names(list(splits.train.frame.columns)), calendar_follow_up(parts, cfg.data.time_column)]
    worst = max(checks, key=lambda c: ORDER[c.status]).status
    report = LeakageReport("pass" if worst == "skipped" else worst, checks)
    run.record(rd.leakage, {**report.to_dict(), "stop_on_fail": cfg.leakage.stop_on_fail, "task": "survival"},
               event="leakage_checked", details={"status": report.status, **{c.check: c.status for c in checks}})
    for c in checks:
        if c.status in ("warn", "fail"):
            print(f"leakage check {c.check}: {c.status.upper()}: {c.summary}", flush=True)
    if report.failed and cfg.leakage.stop_on_fail:
        lines = "\n  - ".join(f"{c.check}: {c.summary}" for c in report.failed)
        raise LeakageError(f"leakage check(s) failed, so the run stopped before training:\n  - {lines}\n"
                           f"Evidence: {rd.leakage}. Fix the data or the split; to train anyway, set "
                           "leakage.stop_on_fail=false (the failure stays recorded in the run).")
    return report
