"""A synthetic clinical cohort, deterministic from a seed, with switches that plant leaks.

Patients (``patient_id``) come back for 1 to ``max_visits`` visits spread over ``years``
calendar years; each visit has sex, age and age band, site (site ``E`` is rare), vital signs
and labs with missing values, an integer-coded smoking status, columns whose names hold a dot
or a space, and an outcome with three classes, one of them rare (``died``). Outcomes depend on
the features, on a per-patient frailty (so visits of one patient are alike: a split that puts
them on both sides leaks) and, with ``drift`` > 0, on calendar time.

Each ``leak_*`` switch plants one kind of leakage a real clinical table can hold:

- ``leak_duplicates``: a fraction of visits copied verbatim as new rows (same features);
- ``leak_outcome_lab``: ``troponin_peak``, a lab value drawn after the outcome that encodes it;
- ``leak_cause_of_death``: ``cause_of_death``, filled only for patients who died;
- ``leak_identifier``: ``record_number``, a unique number per row, left among the features;
- ``leak_target_copy``: ``outcome_code``, the outcome as an integer code;
- ``leak_outcome_level``: ``record_status``, a category recorded after the outcome whose level
  ``X`` occurs only in patients who died (70 % of them; its other levels are random), so the
  column alone is no near-perfect predictor;
- ``leak_follow_up``: ``follow_up_days``, days from the visit to death or censoring at the end of
  the study: short for patients who died, known only after the outcome;
- ``leak_subject_id``: ``enrolment_code``, the patient's number, repeated over their visits and
  left among the features (the column is not called an id).

Two switches shape the table the way real registries are shaped, without leaking:

- ``coarse``: registry-style coarse features (age in whole years, grade, stage, creatinine to
  0.5 mg/dL, HbA1c as diabetic / normal) instead of the continuous vitals and labs, so different
  patients share identical feature vectors by coincidence;
- ``calendar_ints``: ``visit_year`` (an integer year) and ``study_day`` (days since the
  study's first day), the integer calendar columns registries often hold instead of dates.

With every ``leak_*`` switch off (the default) the table is clean: every leakage check passes on it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from medtorch.data.cohort_spec import CohortSpec  # re-exported: the one declaration of the parameters

CLASSES = ("stable", "admitted", "died")
SITES = ("A", "B", "C", "D", "E")
SITE_P = (0.3, 0.27, 0.23, 0.16, 0.04)  # E is the rare site


def generate_cohort(spec: CohortSpec | None = None, **overrides: Any) -> pd.DataFrame:
    """The cohort as a table: one row per visit, in visit-date order."""
    spec = spec or CohortSpec()
    if overrides:
        spec = CohortSpec(**{**asdict(spec), **overrides})
    if spec.patients < 10 or spec.max_visits < 1 or spec.years < 1:
        raise ValueError(f"cohort needs patients >= 10, max_visits >= 1, years >= 1; got {spec}")
    rng = np.random.default_rng(spec.seed)
    n_pat = spec.patients
    visits = rng.integers(1, spec.max_visits + 1, size=n_pat)
    pat = np.repeat(np.arange(n_pat), visits)
    n = len(pat)

    sex = np.where(rng.random(n_pat) < 0.52, "F", "M")[pat]
    site = np.array(SITES)[rng.choice(len(SITES), size=n_pat, p=SITE_P)][pat]
    frailty = rng.normal(0.0, 1.0, n_pat)[pat]  # shared by all visits of one patient
    base_age = rng.integers(25, 86, n_pat)
    first_day = rng.integers(0, 365 * spec.years - 1, n_pat)
    gap = rng.integers(20, 240, n)  # days between visits of one patient
    cum = np.cumsum(gap)
    since_first = cum - cum[np.r_[0, np.cumsum(visits)[:-1]]][pat]  # 0 at each patient's first visit
    day = np.minimum(first_day[pat] + since_first, 365 * spec.years - 1)
    date = pd.Timestamp(f"{spec.start_year}-01-01") + pd.to_timedelta(day, unit="D")
    age = base_age[pat] + (day - first_day[pat]) // 365

    sbp = rng.normal(128 + 0.3 * (age - 55) + 4 * frailty, 15)
    creat = np.exp(rng.normal(0.0 + 0.15 * frailty + 0.004 * (age - 55), 0.25))
    hba1c = rng.normal(5.8 + 0.3 * frailty, 0.7)
    bmi = rng.normal(27 + 0.8 * frailty, 4.5)
    crp = np.exp(rng.normal(1.0 + 0.4 * frailty, 0.9))
    hr = rng.normal(76 + 3 * frailty, 11)
    smoker = rng.choice(3, size=n, p=(0.55, 0.3, 0.15))  # 0 never, 1 former, 2 current

    year = day / 365.0
    z_adm = (-1.3 + 0.03 * (age - 55) + 0.7 * frailty + 0.02 * (sbp - 128) + 0.5 * (smoker == 2)
             + 0.25 * (site == "E") + spec.drift * (year - spec.years / 2) + rng.normal(0, 0.6, n))
    z_die = -4.6 + 0.05 * (age - 55) + 0.9 * frailty + 0.9 * np.log(creat) * 3 + rng.normal(0, 0.6, n)
    p_die = 1 / (1 + np.exp(-z_die))
    p_adm = 1 / (1 + np.exp(-z_adm))
    u = rng.random(n)
    outcome = np.where(u < p_die, 2, np.where(rng.random(n) < p_adm, 1, 0))

    def gaps(x: np.ndarray, rate: float) -> np.ndarray:  # missing completely at random
        return np.where(rng.random(n) < rate, np.nan, x)

    frame = pd.DataFrame({
        "visit_id": np.arange(1, n + 1),
        "patient_id": np.char.add("P", np.char.zfill(pat.astype(str), 5)),
        "visit_date": date.strftime("%Y-%m-%d"),
        "sex": sex,
        "age": age.astype(np.int64),
        "age_band": pd.cut(age, [0, 40, 60, 75, 200], labels=["<40", "40-59", "60-74", "75+"], right=False).astype(str),
        "site": site,
        "systolic_bp": np.round(sbp, 0),
        "creatinine": np.round(gaps(creat, 0.08), 3),
        "hba1c": np.round(gaps(hba1c, 0.15), 2),
        "bmi": np.round(gaps(bmi, 0.05), 1),
        "lab.crp": np.round(gaps(crp, 0.1), 2),
        "heart rate": np.round(hr, 0),
        "smoker": smoker,
        "outcome": np.array(CLASSES)[outcome],
    })
    if spec.coarse:
        frame = _coarsen(frame, frailty, rng)
    if spec.calendar_ints:
        frame["visit_year"] = date.year.to_numpy().astype(np.int64)
        frame["study_day"] = day.astype(np.int64)
    if spec.leak_outcome_level:
        other = np.array(["open", "closed", "archived"])[rng.integers(0, 3, n)]
        frame["record_status"] = np.where((outcome == 2) & (rng.random(n) < 0.7), "X", other)
    if spec.leak_follow_up:
        left = 365 * spec.years - day  # censored at the end of the study ...
        to_death = np.ceil(rng.exponential(120.0, n))  # ... unless the patient died first
        frame["follow_up_days"] = np.where(outcome == 2, np.minimum(to_death, left), left).astype(np.int64)
    if spec.leak_subject_id:
        frame["enrolment_code"] = pat.astype(np.int64) + 10_000
    if spec.leak_outcome_lab:
        frame["troponin_peak"] = np.round(np.exp(0.2 + 1.6 * outcome + rng.normal(0, 0.1, n)), 3)
    if spec.leak_cause_of_death:
        causes = np.array(["cardiac", "sepsis", "stroke", "cancer"])[rng.integers(0, 4, n)]
        frame["cause_of_death"] = np.where(outcome == 2, causes, None)
    if spec.leak_identifier:
        frame["record_number"] = rng.permutation(n) + 100_000
    if spec.leak_target_copy:
        frame["outcome_code"] = outcome
    if spec.leak_duplicates > 0:
        k = max(1, int(round(spec.leak_duplicates * n)))
        copies = frame.iloc[rng.choice(n, size=k, replace=False)].copy()
        copies["visit_id"] = np.arange(n + 1, n + k + 1)
        copies["patient_id"] = [f"Q{i:05d}" for i in range(k)]  # re-registered under a new id
        frame = pd.concat([frame, copies], ignore_index=True)
        if "record_number" in frame:
            frame["record_number"] = rng.permutation(len(frame)) + 100_000
    return frame.sort_values(["visit_date", "visit_id"], kind="stable").reset_index(drop=True)


def _coarsen(frame: pd.DataFrame, frailty: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Registry-style features: grades, stages and rounded labs replace the continuous ones."""
    out = frame.drop(columns=["systolic_bp", "lab.crp", "heart rate", "bmi"])
    out["grade"] = np.digitize(frailty + rng.normal(0, 0.5, len(frame)), [-0.6, 0.6]) + 1  # 1..3
    out["stage"] = np.array(["I", "II", "III", "IV"])[np.digitize(frailty + rng.normal(0, 0.8, len(frame)),
                                                                   [-0.8, 0.3, 1.2])]
    out["creatinine"] = np.round(out["creatinine"] * 2) / 2
    out["hba1c"] = np.where(out["hba1c"] >= 6.5, "diabetic", np.where(out["hba1c"].isna(), None, "normal"))
    return out


def coarse_diabetes() -> pd.DataFrame:
    """A coarse copy of scikit-learn's diabetes table (442 patients, shipped with the package): age in
    whole years, BMI and labs rounded as a registry records them, and the one-year disease
    progression cut at its median into ``progression`` = low / high."""
    from sklearn.datasets import load_diabetes

    d = load_diabetes(as_frame=True, scaled=False)
    f = d.data.rename(columns={"s1": "total_chol", "s2": "ldl", "s3": "hdl", "s4": "chol_hdl_ratio", "s5": "log_tg",
                               "s6": "glucose"})
    out = pd.DataFrame({"age": f["age"].round().astype(np.int64), "sex": np.where(f["sex"] == 1, "F", "M"),
                        "bmi": f["bmi"].round().astype(np.int64), "bp": (f["bp"] / 5).round().astype(np.int64) * 5})
    for col, step in (("total_chol", 10), ("ldl", 10), ("hdl", 5), ("chol_hdl_ratio", 1), ("log_tg", 0.5),
                      ("glucose", 5)):
        out[col] = (f[col] / step).round() * step
    out["progression"] = np.where(d.target > np.median(d.target), "high", "low")
    return out
