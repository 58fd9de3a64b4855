"""New test data for the governed look of a task=survival run (``medtorch evaluate RUN --test-data FILE``),
as for classification: the file is checked against the run's data specification (any violation refuses
it, EXIT_BAD_INPUT, nothing written), read with the run's duration and event columns, and refused
(EXIT_NOT_INDEPENDENT) when a row has the same feature values as a row of the run's data (development
or sealed test) or shares a subject with it. Its rows' hash is the test set's identity in the registry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from medtorch.errors import IntegrityError, MedtorchError
from medtorch.run import RunDir


def new_survival_rows(rd: RunDir, cfg: dict, manifest: dict, path: str | Path):
    """(frame, event, ids, duration, extra, rows_sha256) of the new test file ``path``."""
    from medtorch.evaluation.development import row_keys, rows_sha256
    from medtorch.evaluation.test_rows import OverlapError, shared_subjects
    from medtorch.survival.data import DURATION, load_survival
    from medtorch.survival.predict import checked_input

    path = Path(path)
    if not path.is_file():
        raise MedtorchError(f"--test-data {path}: no such file; give a CSV or Parquet file with the run's feature "
                            f"columns, {cfg['data']['duration_column']!r} and {cfg['data']['event_column']!r}.")
    checked_input(rd, path)  # the data specification of the run, as for predict
    d = cfg["data"]
    new = load_survival(OmegaConf.create({**d, "source": "table", "path": str(path)}), role="test")
    old = load_survival(OmegaConf.create(d))
    if old.source["sha256"] != manifest["data"]["sha256"]:
        raise IntegrityError(f"the run's data ({old.source.get('path', old.source.get('name'))}) changed since it was "
                             "trained, so the new test data cannot be checked for overlap with it. Restore the original file.")
    cols = [c for c in old.frame.columns if c in new.frame.columns]
    hit = np.isin(row_keys(new.frame[cols]), row_keys(old.frame[cols]))
    problems = []
    if hit.any():
        first = ", ".join(str(r + 1) for r in np.flatnonzero(hit)[:5])
        problems.append(f"{int(hit.sum())} row(s) have the same feature values as rows of the run's data; first at "
                        f"data rows {first} (numbered from 1, the first data row after the header)")
    shared = shared_subjects(new.extra, old.extra, d.get("subject_column"))
    if shared:
        problems.append(shared)
    if problems:
        raise OverlapError(f"--test-data {path} is not independent of the data run {rd.root.name} was developed and "
                           f"sealed on: {'; '.join(problems)}. Evaluate on data from patients the run never saw.")
    digest = rows_sha256(new.frame, new.y, new.ids)
    return new.frame, new.y, new.ids, new.extra[DURATION].to_numpy(float), new.extra, digest
