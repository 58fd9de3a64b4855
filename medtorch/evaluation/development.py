"""What a model's development is, and which rows a test set holds.

The development fingerprint (hashes of the development config, medtorch's code and the data)
tells two looks at one test set apart: the same development may look again, a changed one
has been informed by the earlier look (``medtorch.registry.roles``). ``rows_sha256`` names a
test set by its content.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtorch.hashing import sha256_bytes, sha256_json

HOLD_OUT = "hold-out test set"
SECOND_STAGE = "second-stage validation set"
NOT_DEVELOPMENT = ("acceptance", "evaluation", "cv", "registry")  # config groups that do not change the model


def development_config(config: dict[str, Any]) -> dict[str, Any]:
    dev = {k: v for k, v in config.items() if k not in NOT_DEVELOPMENT}
    if isinstance(dev.get("trainer"), dict):
        dev["trainer"] = {k: v for k, v in dev["trainer"].items() if k != "enable_progress_bar"}
    return dev


def code_sha256() -> str:
    """Hash of medtorch's source files (and train.py beside the package), in path order."""
    pkg = Path(__file__).resolve().parent.parent
    files = sorted(pkg.rglob("*.py")) + [p for p in [pkg.parent / "train.py"] if p.is_file()]
    parts = [f"{p.relative_to(pkg.parent).as_posix()}\0".encode() + p.read_bytes() for p in files]
    return sha256_bytes(b"\0".join(parts))


def development_fingerprint(config: dict[str, Any], data_sha256: str) -> dict[str, str]:
    parts = {"config_sha256": sha256_json(development_config(config)), "code_sha256": code_sha256(),
             "data_sha256": data_sha256}
    return {**parts, "sha256": sha256_json(parts)}


def rows_sha256(frame: pd.DataFrame, y: np.ndarray, ids: np.ndarray) -> str:
    """Content hash of a set of rows (features, labels, identities), independent of row order."""
    keys = row_keys(frame)
    order = np.argsort(np.asarray(ids), kind="stable")
    table = np.stack([keys[order], np.asarray(y, dtype=np.uint64)[order], np.asarray(ids).astype(np.uint64)[order]])
    return sha256_bytes(table.tobytes())


def row_keys(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit key per row from its values (numbers compared as float64, everything else as text)."""
    columns = {}
    for col in frame.columns:
        s = frame[col].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            columns[col] = s.astype("float64")
        else:
            columns[col] = s.astype("string").fillna("<NA>")
    # built once from all columns: inserting them one by one fragments the frame (a PerformanceWarning per column)
    norm = pd.DataFrame(columns, index=range(len(frame)))
    return pd.util.hash_pandas_object(norm, index=False).to_numpy()
