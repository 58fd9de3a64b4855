"""The early split: train / validation / test, made before anything is fitted, by any strategy.

``make_split`` is the only way to obtain a ``TrainRows`` object, and ``TrainRows`` is the
only thing a transform's ``fit`` accepts. So preprocessing can be fitted on training rows
only: fitting on validation or test rows is not discouraged, it is impossible through the
public API (a test proves it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from medtorch.data.sources import RawTable
from medtorch.errors import MedtorchError
from medtorch.hashing import sha256_ids

_TOKEN = object()  # only make_split holds it, so only make_split can create TrainRows


@dataclass(frozen=True)
class Rows:
    """The rows of one split: raw features, labels and row identities."""

    name: str
    frame: pd.DataFrame
    y: np.ndarray
    ids: np.ndarray
    extra: pd.DataFrame  # subject/time/subgroup columns of these rows (never features)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def ids_sha256(self) -> str:
        return sha256_ids(self.ids)


class TrainRows(Rows):
    """Training rows: the only rows any transform may be fitted on."""

    def __init__(self, *args: Any, _token: object = None, **kwargs: Any) -> None:
        if _token is not _TOKEN:
            raise TypeError("TrainRows can only be created by medtorch.data.split.make_split.")
        super().__init__(*args, **kwargs)


class HeldOutRows(Rows):
    """Validation or test rows: transformed with what was fitted on training rows, never fitted on."""


@dataclass(frozen=True)
class Splits:
    train: TrainRows
    val: HeldOutRows
    test: HeldOutRows
    strategy: str
    seed: int
    fractions: dict[str, float]
    subject: str | None = None  # subject id column in each part's ``extra``
    time: str | None = None  # date column in each part's ``extra``
    options: dict[str, Any] | None = None  # cut-off dates, external test source

    def parts(self) -> dict[str, Rows]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def record(self, classes: list[str]) -> dict[str, Any]:
        """What the split did, for the split record and the manifest."""
        out: dict[str, Any] = {"strategy": self.strategy, "seed": self.seed, "fractions": self.fractions,
                               "subject_column": self.subject, "time_column": self.time, **(self.options or {}),
                               "parts": {}}
        for name, part in self.parts().items():
            counts = np.bincount(part.y, minlength=len(classes))
            out["parts"][name] = {
                "rows": len(part),
                "class_counts": {c: int(n) for c, n in zip(classes, counts)},
                "ids_sha256": part.ids_sha256,
            }
            if self.subject and self.subject in part.extra:
                out["parts"][name]["subjects"] = int(part.extra[self.subject].nunique())
            if self.time and self.time in part.extra and len(part):
                t = part.extra[self.time]
                out["parts"][name]["time_range"] = [str(t.min()), str(t.max())]
        return out


def make_split(raw: RawTable, strategy: str, train: float, val: float, test: float, seed: int, *,
               subject: str | None = None, time: str | None = None, train_end: str | None = None,
               val_end: str | None = None, external: RawTable | None = None, new_subjects_only: bool = True) -> Splits:
    """Split ``raw`` into train/val/test by ``strategy`` (see ``medtorch.data.split_strategies``).

    ``subject`` and ``time`` name columns of ``raw.extra``. For ``external`` the test split is
    the ``external`` table and ``raw`` is split into train and validation only (grouped by
    subject when ``subject`` is given, stratified otherwise).
    """
    from medtorch.data import split_strategies as st

    excluded: dict[str, int] = {}

    def column(name: str | None, role: str) -> pd.Series:
        if not name or name not in raw.extra.columns:
            raise MedtorchError(f"split.strategy={strategy} needs data.{role}_column; got {name!r}.")
        return raw.extra[name].reset_index(drop=True)

    try:
        if strategy == "stratified":
            parts = st.stratified(raw.y, train, val, test, seed)
        elif strategy == "grouped":
            parts = st.grouped(raw.y, column(subject, "subject"), train, val, test, seed)
        elif strategy == "temporal":
            parts = st.temporal(column(time, "time"), train, val, test, train_end, val_end)
            if subject and new_subjects_only:
                parts, excluded = st.drop_seen_subjects(parts, column(subject, "subject"))
        elif strategy == "external":
            if external is None:
                raise MedtorchError("split.strategy=external needs the external test table (split.test_path=FILE).")
            dev = train + val
            if subject:
                parts = st.grouped(raw.y, column(subject, "subject"), train / dev, val / dev, 0.0, seed)
            else:
                parts = st.stratified(raw.y, train / dev, val / dev, 0.0, seed)
        else:
            raise MedtorchError(f"split.strategy must be one of 'stratified', 'grouped', 'temporal', 'external'; "
                                f"got {strategy!r}.")
    except ValueError as e:
        reason = str(e) if len(str(e)) <= 300 else str(e)[:300].rsplit(",", 1)[0] + ", ...]"  # scikit-learn lists every short class
        many = len(raw.classes) > len(raw.y) / 2  # an identifier or a measurement named as the label
        raise MedtorchError(
            f"the {strategy} split (train={train}, val={val}, test={test}) of {len(raw.y)} rows failed: {reason}. "
            "Each class needs enough rows (and subjects) for every split; class counts: " + _counts(raw)
            + (f". The label column has {len(raw.classes)} distinct values in {len(raw.y)} rows: is data.target the "
               "outcome (a few classes), not an identifier or a measurement?" if many else "")
        ) from None
    names = ("train", "val") if strategy == "external" else ("train", "val", "test")
    for name in names:
        present = np.bincount(raw.y[parts[name]], minlength=len(raw.classes))
        absent = [raw.classes[k] for k in np.flatnonzero(present == 0)]
        if absent:
            raise MedtorchError(
                f"the {strategy} split (train={train}, val={val}, test={test}) leaves class(es) {absent} absent from "
                f"the {name} split; class counts: {_counts(raw)}. Use larger fractions for small splits, other "
                "cut-off dates, or more data."
            )

    def take(table: RawTable, rows: np.ndarray) -> dict[str, Any]:
        extra = (table.extra.iloc[rows].reset_index(drop=True) if len(table.extra.columns)
                 else pd.DataFrame(index=range(len(rows))))
        return {"frame": table.frame.iloc[rows].reset_index(drop=True), "y": table.y[rows], "ids": table.ids[rows],
                "extra": extra}

    if strategy == "external":
        missing = [c for c in raw.frame.columns if c not in external.frame.columns]
        if missing:
            raise MedtorchError(f"the external test file lacks feature column(s) {missing} of the training table.")
        ext = RawTable(external.frame[list(raw.frame.columns)], external.y, external.classes, external.ids,
                       external.source, external.extra)
        test_part = take(ext, np.arange(len(ext.y)))
    else:
        test_part = take(raw, parts["test"])
    return Splits(
        train=TrainRows("train", **take(raw, parts["train"]), _token=_TOKEN),
        val=HeldOutRows("val", **take(raw, parts["val"])),
        test=HeldOutRows("test", **test_part),
        strategy=strategy,
        seed=seed,
        fractions={"train": train, "val": val, "test": test},
        subject=subject,
        time=time,
        options={"train_end": train_end, "val_end": val_end, "excluded_seen_subject_rows": excluded,
                 "test_source": external.source if external is not None else None},
    )


def _counts(raw: RawTable, limit: int = 20) -> str:
    """Rows per class; with more than ``limit`` classes, the rarest ``limit`` (the ones a split fails on)."""
    pairs = list(zip(raw.classes, np.bincount(raw.y, minlength=len(raw.classes)).tolist()))
    shown = pairs if len(pairs) <= limit else sorted(pairs, key=lambda p: p[1])[:limit]
    text = ", ".join(f"{c}: {n}" for c, n in shown)
    return text if len(pairs) <= limit else f"{text} (the {limit} rarest of {len(pairs)} classes)"


def development_fold(splits: Splits, k: int, fold: int, seed: int, groups: np.ndarray | None = None) -> tuple[Splits, str]:
    """Fold ``fold`` of a k-fold split of the development rows (train + validation).

    The fold's rows become the validation rows and the rest the training rows; the test rows
    are untouched (sealed). Folds are stratified by class, and grouped (no subject in two
    folds) when ``groups`` is given. Returns the new Splits and the fold strategy's name.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    dev = [splits.train, splits.val]
    order = np.argsort(np.concatenate([p.ids for p in dev]), kind="stable")
    frame = pd.concat([p.frame for p in dev], ignore_index=True).iloc[order].reset_index(drop=True)
    extra = pd.concat([p.extra for p in dev], ignore_index=True).iloc[order].reset_index(drop=True)
    y, ids = np.concatenate([p.y for p in dev])[order], np.concatenate([p.ids for p in dev])[order]
    if groups is None:
        folder, name, kw = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed), "stratified k-fold", {}
    else:
        folder, name = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed), "stratified group k-fold"
        kw = {"groups": np.asarray(groups)[order]}  # given in train-then-validation order, like ``order``
    try:
        tr, va = list(folder.split(np.zeros(len(y)), y, **kw))[fold]
    except ValueError as e:
        raise MedtorchError(f"cv.folds={k} cannot split the {len(y)} development rows: {e}. Use fewer folds.") from None

    def take(rows: np.ndarray) -> dict[str, Any]:
        return {"frame": frame.iloc[rows].reset_index(drop=True), "y": y[rows], "ids": ids[rows],
                "extra": extra.iloc[rows].reset_index(drop=True)}

    out = Splits(train=TrainRows("train", **take(tr), _token=_TOKEN), val=HeldOutRows("val", **take(va)), test=splits.test,
                 strategy=f"{splits.strategy}; development rows: {name} (fold {fold} of {k})", seed=splits.seed,
                 fractions=splits.fractions)
    return out, name
