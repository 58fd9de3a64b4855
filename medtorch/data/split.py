"""The early split: train / validation / test, made before anything is fitted.

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

    def parts(self) -> dict[str, Rows]:
        return {"train": self.train, "val": self.val, "test": self.test}

    def record(self, classes: list[str]) -> dict[str, Any]:
        """What the split did, for split.json and the manifest."""
        out: dict[str, Any] = {"strategy": self.strategy, "seed": self.seed, "fractions": self.fractions, "parts": {}}
        for name, part in self.parts().items():
            counts = np.bincount(part.y, minlength=len(classes))
            out["parts"][name] = {
                "rows": len(part),
                "class_counts": {c: int(n) for c, n in zip(classes, counts)},
                "ids_sha256": part.ids_sha256,
            }
        return out


def make_split(raw: RawTable, strategy: str, train: float, val: float, test: float, seed: int) -> Splits:
    """Stratified random split of ``raw`` into train/val/test with the given fractions."""
    if strategy != "stratified":
        raise MedtorchError(f"split.strategy must be 'stratified'; got {strategy!r}.")
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(raw.y))
    try:
        dev, te = train_test_split(idx, test_size=test, stratify=raw.y, random_state=seed)
        tr, va = train_test_split(dev, test_size=val / (train + val), stratify=raw.y[dev], random_state=seed)
    except ValueError as e:
        raise MedtorchError(
            f"the stratified split (train={train}, val={val}, test={test}) of {len(idx)} rows failed: {e}. "
            "Each class needs enough rows for every split; class counts: "
            + _counts(raw)
        ) from None
    parts = {"train": np.sort(tr), "val": np.sort(va), "test": np.sort(te)}
    for name, rows in parts.items():
        present = np.bincount(raw.y[rows], minlength=len(raw.classes))
        absent = [raw.classes[k] for k in np.flatnonzero(present == 0)]
        if absent:
            raise MedtorchError(
                f"split fractions train={train}, val={val}, test={test} leave class(es) {absent} absent from the "
                f"{name} split; class counts: {_counts(raw)}. Use larger fractions for small splits or more data."
            )

    def take(rows: np.ndarray) -> dict[str, Any]:
        extra = raw.extra.iloc[rows].reset_index(drop=True) if len(raw.extra.columns) else pd.DataFrame(index=range(len(rows)))
        return {"frame": raw.frame.iloc[rows].reset_index(drop=True), "y": raw.y[rows], "ids": raw.ids[rows], "extra": extra}

    return Splits(
        train=TrainRows("train", **take(parts["train"]), _token=_TOKEN),
        val=HeldOutRows("val", **take(parts["val"])),
        test=HeldOutRows("test", **take(parts["test"])),
        strategy=strategy,
        seed=seed,
        fractions={"train": train, "val": val, "test": test},
    )


def _counts(raw: RawTable) -> str:
    counts = np.bincount(raw.y, minlength=len(raw.classes))
    return ", ".join(f"{c}: {n}" for c, n in zip(raw.classes, counts))


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
