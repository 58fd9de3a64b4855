"""The test-set ledger and the demotion rule.

Every governed look at a test set appends one hash-chained line to the ledger (shared by all
runs of a project, ``evaluation.ledger``): which test set (the hash of its rows), which model,
its development fingerprint (hashes of the development config, the code and the data), the
criteria, the result and the role the test set had.

The demotion rule: a test set keeps the role *hold-out test set* while every look at it was
made for the same development. Once it has been looked at and development then changed
(another config, code or data hash), it has informed development: from then on it is a
*second-stage validation set*, for every later look, and a hold-out claim needs a new
independent test set (``medtorch evaluate RUN --test-data NEW_FILE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtorch.audit import EventLog
from medtorch.hashing import sha256_bytes, sha256_json
from medtorch.locking import exclusive

HOLD_OUT = "hold-out test set"
SECOND_STAGE = "second-stage validation set"
NOT_DEVELOPMENT = ("acceptance", "evaluation", "cv")  # config groups that do not change the model


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


def decide_role(prior: list[dict[str, Any]], fingerprint: dict[str, str]) -> dict[str, Any]:
    """Role of a test set for a new look, given the earlier looks at the same test set."""
    for look in prior:
        d = look["details"]
        if d["role"] == SECOND_STAGE:
            return {"role": SECOND_STAGE, "reason": f"already a second-stage validation set since look {d['look_on_test_set']}"}
        theirs = d["development"]
        if theirs["sha256"] != fingerprint["sha256"]:
            changed = [k.removesuffix("_sha256") for k in ("config_sha256", "code_sha256", "data_sha256") if theirs[k] != fingerprint[k]]
            return {"role": SECOND_STAGE,
                    "reason": f"look {d['look_on_test_set']} (run {d['run_id'][:8]}) was made for a different development "
                              f"({', '.join(changed)} changed); this test set has informed development"}
    return {"role": HOLD_OUT, "reason": "first look" if not prior else f"every earlier look ({len(prior)}) was for the same development"}


class TestLedger:
    """The hash-chained ledger of test-set looks (an EventLog of 'test_look' lines)."""

    __test__ = False  # not a pytest class

    def __init__(self, path: str | Path) -> None:
        self.log = EventLog(Path(path))

    @property
    def path(self) -> Path:
        return self.log.path

    def looks(self, test_set_sha256: str | None = None) -> list[dict[str, Any]]:
        self.log.verify_chain()
        return [r for r in self.log.records() if r["action"] == "test_look"
                and (test_set_sha256 is None or r["details"]["test_set"]["sha256"] == test_set_sha256)]

    def locked(self):
        """Exclusive use of the ledger (``medtorch.locking``): hold it from reading the earlier looks
        to recording the new one, so concurrent evaluations neither lose a line nor share a look number."""
        return exclusive(self.path)

    def record(self, details: dict[str, Any], inputs: dict[str, str], outputs: dict[str, str]) -> dict[str, Any]:
        with self.locked():
            return self.log.append("test_look", details, inputs=inputs, outputs=outputs)
