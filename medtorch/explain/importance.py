"""Global importance per class and the rows chosen for local explanations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from medtorch.errors import MedtorchError
from medtorch.explain.attributions import MethodResult


def global_importance(result: MethodResult, classes: list[str], columns: list[str]) -> pd.DataFrame:
    """Per class and column: mean |attribution| over the rows, its spread, the signed mean, the rank."""
    frames = []
    for k, cls in enumerate(classes):
        a = result.columns[k]  # (rows, columns)
        mean_abs = np.abs(a).mean(axis=0)
        frames.append(pd.DataFrame({
            "method": result.method,
            "class": cls,
            "column": columns,
            "mean_abs": mean_abs,
            "std_abs": np.abs(a).std(axis=0),
            "mean_signed": a.mean(axis=0),
            # rank 1 = most important; ties share the lower rank
            "rank": pd.Series(mean_abs).rank(ascending=False, method="min").astype(int).to_numpy(),
        }))
    return pd.concat(frames, ignore_index=True)


@dataclass
class LocalRow:
    index: int  # position among the explained rows
    row_id: int
    reasons: list[str]


def select_rows(probs: np.ndarray, y: np.ndarray, ids: np.ndarray, per_kind: int, requested: list[int]) -> list[LocalRow]:
    """Most and least confident predictions, the most confident mistakes, and requested row ids."""
    pred, conf = probs.argmax(axis=1), probs.max(axis=1)
    order = np.argsort(-conf, kind="stable")
    wrong = order[pred[order] != y[order]]
    picks: dict[int, list[str]] = {}

    def add(idx, reason):
        for i in idx:
            picks.setdefault(int(i), []).append(reason)

    add(order[:per_kind], "most confident")
    add(order[::-1][:per_kind], "least confident")
    add(wrong[:per_kind], "misclassified")
    position = {int(r): i for i, r in enumerate(ids)}
    missing = [r for r in requested if int(r) not in position]
    if missing:
        raise MedtorchError(
            f"row id(s) {missing} are not among the explained rows of this split; row ids are the data's id column "
            f"(or row numbers in the file). Some ids that are: {[int(v) for v in ids[:8]]}."
        )
    add([position[int(r)] for r in requested], "requested")
    return [LocalRow(i, int(ids[i]), reasons) for i, reasons in picks.items()]


def local_table(results: list[MethodResult], rows: list[LocalRow], probs: np.ndarray, y: np.ndarray,
                classes: list[str], columns: list[str], raw: pd.DataFrame) -> pd.DataFrame:
    """One line per (row, column): the raw value and each method's attribution to the predicted class."""
    lines = []
    for r in rows:
        k = int(probs[r.index].argmax())
        for j, col in enumerate(columns):
            line = {"row_id": r.row_id, "reasons": "; ".join(r.reasons), "true_label": classes[int(y[r.index])],
                    "predicted_label": classes[k], "probability": float(probs[r.index, k]), "column": col,
                    "value": raw.iloc[r.index][col] if col in raw.columns else None}
            for res in results:
                line[res.method] = float(res.columns[k, r.index, j])
            lines.append(line)
    return pd.DataFrame(lines)
