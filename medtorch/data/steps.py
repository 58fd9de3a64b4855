"""The data steps of a training run, each ``step(cfg, run, state) -> state`` (see medtorch.steps).

load -> early split and preprocessing fitted on the training rows only (every rank) ->
leakage checks (rank 0) -> rebalancing plan (every rank) -> lineage, exploration (rank 0).
"""

from __future__ import annotations

import torch

from medtorch.data import governance, sources
from medtorch.data.balance import plan_balance
from medtorch.data.prepared import Prepared
from medtorch.data.transforms import TabularPreprocessor
from medtorch.errors import MedtorchError
from medtorch.evidence import Run
from medtorch.hashing import sha256_bytes
from medtorch.steps import State


def load(cfg, run: Run, state: State) -> State:
    raw = sources.load(cfg.data)
    run.update_manifest(data={**raw.source, "classes": raw.classes, "dropped": raw.dropped})
    run.event("data_loaded", {"rows": len(raw.y), "features": raw.frame.shape[1], "classes": raw.classes,
                              "dropped": raw.dropped}, inputs={"data": raw.source["sha256"]})
    state.raw = raw
    return state


def split_and_fit(cfg, run: Run, state: State) -> State:
    """The early split (the test rows fixed and hashed, never evaluated here), then preprocessing fitted on train."""
    from medtorch.evidence import encode

    raw, rd = state.raw, run.rd
    splits = governance.split_table(cfg, raw)
    if cfg.cv.folds:
        from medtorch.evaluation.crossval import fold_splits

        splits, cv = fold_splits(cfg, splits)
        run.manifest.cv = cv
    record = splits.record(raw.classes)
    record["test_sealed"] = True  # the test rows are fixed and hashed here; they are not evaluated by training
    prep = TabularPreprocessor().fit(splits.train)
    before = state.evidence_before_resume
    if before is not None and before != {run.rel(rd.split): sha256_bytes(encode(record)),
                                         run.rel(rd.preprocessing): sha256_bytes(encode(prep.state_dict()))}:
        raise MedtorchError(
            f"{rd.root}: the split or the fitted preprocessing differs from the interrupted run's "
            "(the data file or the code changed); start a new run instead of resuming this one."
        )
    run.record(rd.split, record)
    run.update_manifest(splits={k: v["ids_sha256"] for k, v in record["parts"].items()})
    run.event("split_made", {"strategy": cfg.split.strategy, "rows": {k: v["rows"] for k, v in record["parts"].items()}},
              outputs={run.rel(rd.split): run.recorded[run.rel(rd.split)]})
    run.record(rd.preprocessing, prep.state_dict(), event="preprocessing_fitted",
               details={"fitted_on": prep.fitted_on_, "features": len(prep.feature_names_)})
    tensors = {name: (torch.from_numpy(prep.transform(part.frame)), torch.from_numpy(part.y))
               for name, part in splits.parts().items()}
    state.prepared = Prepared(splits, prep, raw.classes, tensors, record)
    return state


def check_leakage(cfg, run: Run, state: State) -> State:
    p = state.prepared
    state.leakage = governance.check_leakage(cfg, p.splits, run, p.classes)
    return state


def plan_rebalancing(cfg, run: Run, state: State) -> State:
    """The same oversampling/weights on every rank (each draws its own shard of the same plan)."""
    p = state.prepared
    p.balance = plan_balance(cfg.balance, p.splits.train, p.classes, len(p.preprocessor.numeric_))
    run.event("rebalancing_planned", p.balance.record)
    return state


def record_lineage(cfg, run: Run, state: State) -> State:
    p = state.prepared
    governance.record_lineage(cfg, state.raw, p.splits, p.split_record, p.preprocessor.state_dict(), p.balance.record,
                              state.leakage.status if state.leakage else None, run)
    return state


def explore(cfg, run: Run, state: State) -> State:
    p = state.prepared
    governance.explore_data(cfg, p.splits, p.classes, p.balance.record, run)
    return state
