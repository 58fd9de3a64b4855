"""The rows a governed look evaluates: the sealed test split, or a new independent test file.

The sealed test split is recorded at training time (``artefact("sealed_test")``: its row ids and the
hash of its rows); evaluation reloads the data, checks that it is the data the run was trained
on, takes those rows and checks their hash. A new test file is read with the run's data
settings and refused if any of its rows (or subjects) also occur in the run's data: the
development rows and the sealed test rows, which a look has already used, or if a row has no label
(training data drops such rows; a look would silently leave them out).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtorch.errors import EXIT_NOT_INDEPENDENT, IntegrityError, MedtorchError
from medtorch.evaluation.development import row_keys, rows_sha256


class OverlapError(MedtorchError):
    """New test data shares rows or subjects with the data a model was developed on."""

    exit_code = EXIT_NOT_INDEPENDENT


@dataclass
class TestRows:
    __test__ = False  # not a pytest class

    frame: pd.DataFrame
    y: np.ndarray
    ids: np.ndarray
    extra: pd.DataFrame
    source: str
    sha256: str

    def __len__(self) -> int:
        return len(self.y)


def seal_record(test, data_sha256: str) -> dict[str, Any]:
    """What the sealed-test record holds for the test split made at training time."""
    return {"ids": np.sort(test.ids).tolist(), "rows": len(test.y), "rows_sha256": rows_sha256(test.frame, test.y, test.ids),
            "ids_sha256": test.ids_sha256, "data_sha256": data_sha256}


def _load_training_data(run):
    from omegaconf import OmegaConf

    from medtorch.data import sources

    raw = sources.load(OmegaConf.create(run.config["data"]))
    recorded = run.manifest["data"]["sha256"]
    if raw.source["sha256"] != recorded:
        raise IntegrityError(f"the data file {raw.source.get('path', raw.source.get('name'))} has changed since the run was "
                             f"trained (sha256 {raw.source['sha256'][:16]}... but the run recorded {recorded[:16]}...); "
                             "the sealed test rows cannot be recovered from it. Restore the original file.")
    return raw


def sealed_test_rows(run, seal: dict[str, Any]) -> TestRows:
    raw = _load_training_data(run)
    pos = pd.Index(raw.ids).get_indexer(np.asarray(seal["ids"]))
    if (pos < 0).any() or raw.classes != run.classes:
        raise IntegrityError("the run's data no longer holds every sealed test row with the run's classes; restore the original file.")
    frame, y, ids = raw.frame.iloc[pos].reset_index(drop=True), raw.y[pos], raw.ids[pos]
    digest = rows_sha256(frame, y, ids)
    if digest != seal["rows_sha256"]:
        raise IntegrityError(f"the sealed test rows hash to {digest[:16]}... but were sealed as {seal['rows_sha256'][:16]}...")
    extra = raw.extra.iloc[pos].reset_index(drop=True) if len(raw.extra.columns) else pd.DataFrame(index=range(len(pos)))
    return TestRows(frame, y, ids, extra, "sealed test split", digest)


def new_test_rows(run, seal: dict[str, Any], path: str) -> TestRows:
    from omegaconf import OmegaConf

    from medtorch.data import sources
    from medtorch.deploy.checks import refuse_nonconforming_file
    from medtorch.deploy.spec import read_run_spec

    data = OmegaConf.create(run.config["data"])
    if data.source != "table":
        data = OmegaConf.create({**run.config["data"], "source": "table", "target": "target" if data.target is None else data.target})
    data.path = str(path)
    if not Path(path).is_file():
        raise MedtorchError(f"--test-data {path}: no such file.")
    spec, _ = read_run_spec(run.rd, run.manifest)  # verified against the manifest first
    # every row checked against the run's data specification, as predict checks its input: a look
    # at rows the model was never specified for is no evidence of its performance (and a missing
    # feature column is named as one, before the file is read as training data)
    frame, _ = refuse_nonconforming_file(spec, path, f"--test-data {path}", allowed_extra=(str(data.target),), required={
        str(data.target): f"--test-data {path}: no column {str(data.target)!r} with the true labels (the run's data.target); "
                          "a look compares the model's predictions with them."})
    missing = frame[str(data.target)].isna().to_numpy()
    if missing.any():  # the loader drops such rows from training data; a look must not quietly leave rows out
        raise MedtorchError(f"--test-data {path}: {int(missing.sum())} row(s) have no label in column {str(data.target)!r} "
                            f"(first at data row {int(np.flatnonzero(missing)[0]) + 1}, numbered from 1, the first data "
                            "row after the header); a governed look needs the true label of every row. Fill in or "
                            "remove those rows.")
    new = sources.load(data, drop_optional=True)  # columns of data.drop need not be there, as for predict
    unknown = sorted(set(new.classes) - set(run.classes))
    if unknown:
        raise MedtorchError(f"--test-data {path}: label(s) {unknown} in column {data.target!r} are not classes of the model "
                            f"{run.classes}; the new test data must use the same class labels.")
    remap = np.array([run.classes.index(c) for c in new.classes])
    y = remap[new.y]
    _refuse_overlap(run, seal, new, path)
    return TestRows(new.frame, y, new.ids, new.extra, f"new test data {path}", rows_sha256(new.frame, y, new.ids))


def _refuse_overlap(run, seal: dict[str, Any], new, path: str) -> None:
    """Refuse new test rows (or subjects) that also occur in the run's development or sealed test data."""
    old = _load_training_data(run)
    cols = [c for c in old.frame.columns if c in new.frame.columns]
    old_keys = row_keys(old.frame[cols])
    is_test = np.isin(old.ids, np.asarray(seal["ids"]))
    hit = np.isin(row_keys(new.frame[cols]), old_keys)
    dev_hits = int(np.isin(row_keys(new.frame[cols]), old_keys[~is_test]).sum())
    problems = []
    # rows named by their place in the file (rows without a label were dropped by the loader)
    number = new.row_number if new.row_number is not None else np.arange(len(new.y))
    if hit.any():
        rows = ", ".join(str(int(number[r]) + 1) for r in np.flatnonzero(hit)[:5])
        problems.append(f"{int(hit.sum())} row(s) have the same feature values as rows of the run's data "
                        f"({dev_hits} development, {int(hit.sum()) - dev_hits} sealed test); first at data rows {rows} "
                        "(numbered from 1, the first data row after the header)")
    near = _near_duplicates(old.frame[cols], new.frame[cols], ~hit, run, number)
    if near:
        problems.append(near)
    shared = shared_subjects(new.extra, old.extra, run.config["data"].get("subject_column"))
    if shared:
        problems.append(shared)
    if problems:
        raise OverlapError(f"--test-data {path} is not independent of the data the model was developed on: "
                           + "; ".join(problems) + ". Remove those rows (or subjects) and evaluate again.")


def shared_subjects(new_extra: pd.DataFrame, old_extra: pd.DataFrame, column: str | None) -> str | None:
    """The problem to report when new test data shares subjects with the run's data (both tasks), or None."""
    if not column or column not in new_extra.columns or column not in old_extra.columns:
        return None
    shared = sorted(set(new_extra[column].dropna().astype(str)) & set(old_extra[column].dropna().astype(str)))
    return f"{len(shared)} subject(s) in column {column!r} also occur in the run's data, e.g. {shared[:5]}" \
        if shared else None


def _near_duplicates(old: pd.DataFrame, new: pd.DataFrame, candidates: np.ndarray, run, number: np.ndarray) -> str | None:
    """New rows equal to a row of the run's data in every feature but one (numbers at registry.row_digits digits).

    Judged per left-out column with the coincidence logic of the leakage checks: where the
    run's own rows never share those values with each other (expected rate 0), a shared row is
    the same case; where they do (coarse data), only a match rate above that rate is.
    """
    from medtorch.data.coincidence import judge_matches
    from medtorch.registry.identity import DIGITS_DEFAULT, near_duplicate_keys

    if old.shape[1] < 2 or not candidates.any():
        return None
    digits = int(((run.manifest.get("registry") or {}).get("row_identity") or {}).get("digits", DIGITS_DEFAULT))
    ref, query = near_duplicate_keys(old, digits), near_duplicate_keys(new, digits)
    found = np.zeros(len(new), dtype=bool)
    for col in ref:
        v = judge_matches(ref[col], query[col])
        hits = pd.Index(query[col]).isin(pd.Index(ref[col])) & candidates
        if hits.any() and (v.same_case or v.expected_rate == 0.0):
            found |= hits
    if not found.any():
        return None
    rows = ", ".join(str(int(number[r]) + 1) for r in np.flatnonzero(found)[:5])
    return (f"{int(found.sum())} row(s) equal a row of the run's data in every feature but one (numbers compared at "
            f"{digits} significant digits), a near-duplicate with one value changed; first at data rows {rows} (numbered from 1)")


def refuse_test_rows_before_a_look(rd, what: str) -> None:
    """Refuse to show the sealed test split's rows (``what``: the act) until the run's event log records a governed
    look at them (``test_evaluated`` with the sealed rows' hash). Explaining the test rows shows them, their predictions and, for classification,
    their labels and which rows were misclassified: a look at the test set that neither the registry nor the run
    would record. After the recorded look they may be examined like any looked-at rows."""
    from medtorch.evidence import Run

    run = Run.open(rd.root)
    sealed = run.read_json(rd.sealed_test)["rows_sha256"] if rd.sealed_test.is_file() else None
    # a look at new test data (evaluate --test-data) is a look at other rows: it does not open the sealed ones
    if sealed is None or not any(e.get("action") == "test_evaluated" and (e.get("details") or {}).get(
            "test_set_sha256") == sealed for e in run.log.records()):
        raise MedtorchError(f"{what} on the test split would show the sealed test rows before any governed look at them "
                            f"is recorded. Look first with `medtorch evaluate {rd.root}` (recorded in the run and the "
                            "test-set registry), then explain its test rows; or explain the validation rows (--split val).")
