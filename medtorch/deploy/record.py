"""Training-time steps that leave what deployment needs in the run directory.

``record_spec``: the data specification (derived from the training rows, or the user's
locked pre-defined file, enforced on every row the run loaded). ``record_reference``: the
training distributions monitoring compares new data with. ``specify_data`` and
``record_monitoring_reference`` are their ``step(cfg, run, state) -> state`` form (medtorch.steps).
"""

from __future__ import annotations

from medtorch.data.split import Splits
from medtorch.data.transforms import TabularPreprocessor
from medtorch.deploy.spec import DataSpec, derive, load_predefined
from medtorch.errors import MedtorchError
from medtorch.evidence import Run
from medtorch.steps import State


def specify_data(cfg, run: Run, state: State) -> State:
    """The data specification every later input must meet: derived from train rows, or pre-defined and enforced."""
    p = state.prepared
    state.spec = record_spec(cfg, p.splits, p.preprocessor, run)
    return state


def record_monitoring_reference(cfg, run: Run, state: State) -> State:
    """Training-split distributions (and predicted classes) that monitoring compares new data with."""
    p = state.prepared
    record_reference(cfg, state.network, p.splits, p.tensors["train"][0], p.classes, state.spec, run)
    return state


def known_columns(data_cfg) -> list[str]:
    """Columns of the data the run knows but does not use as features: accepted in inputs, not checked."""
    names = [data_cfg.get(k) for k in ("target", "id_column", "subject_column", "time_column")]
    names += list(data_cfg.get("subgroup_columns", [])) + list(data_cfg.get("drop", []))
    return sorted({str(n) for n in names if n})


def record_spec(cfg, splits: Splits, prep: TabularPreprocessor, run: Run) -> DataSpec:
    known = known_columns(cfg.data)
    if cfg.spec.path:
        spec = load_predefined(cfg.spec.path, cfg.spec.sha256, list(splits.train.frame.columns), known)
        _enforce(spec, splits, prep)
    else:
        spec = derive(splits.train, cfg.spec, known)
    rd = run.rd
    hashes = run.record(rd.data_spec, spec.to_dict())
    run.update_manifest(data_spec={"origin": spec.origin, "sha256": hashes[run.rel(rd.data_spec)], **(
        {"predefined_file": spec.source} if spec.origin == "predefined" else {})})
    run.event("data_spec_recorded", {"origin": spec.origin, "columns": len(spec.columns), "source": spec.source},
              inputs={"predefined": spec.source["sha256"]} if spec.origin == "predefined" else {}, outputs=hashes)
    return spec


def _enforce(spec: DataSpec, splits: Splits, prep: TabularPreprocessor) -> None:
    """Refuse training data that breaks the pre-defined specification, listing what breaks it."""
    from medtorch.deploy.checks import SpecChecker

    mismatched = [c.name for c in spec.columns if c.numeric != (c.name in prep.numeric_)]
    if mismatched:
        raise MedtorchError(f"the pre-defined specification's types of {mismatched} disagree with the data (numeric "
                            "there, categorical in the specification, or the reverse); list integer-coded categories "
                            "in data.categorical, or correct the specification.")
    checker = SpecChecker(spec)
    lines, total = [], 0
    for name, part in splits.parts().items():
        _, _, violations = checker.check_rows(part.frame.reset_index(drop=True))
        total += len(violations)
        for v in violations[: max(0, 50 - len(lines))]:
            row_id = part.ids[v.row - 1] if v.row is not None else None
            lines.append(f"{name} split, row id {row_id} | {v.column} | {v.value} | {v.rule}")
    if total:
        raise MedtorchError(
            f"the training data violates the pre-defined specification {spec.source['path']} in {total} place(s); "
            "nothing was trained:\n  " + "\n  ".join(lines) + ("\n  ..." if total > len(lines) else "")
            + "\nCorrect the data, or revise the specification and lock it again (spec.sha256).")


def record_reference(cfg, network, splits: Splits, x_train, classes: list[str], spec: DataSpec, run: Run) -> None:
    """``x_train``: the training rows as the fitted preprocessing made them for training (not made again here)."""
    from medtorch.deploy.reference import derive_reference
    from medtorch.models.inference import infer

    if len(x_train) != len(splits.train):
        raise ValueError(f"record_reference: {len(x_train)} preprocessed rows for {len(splits.train)} training rows")
    probs = infer(network, x_train, cfg.trainer.eval_batch_size)
    ref = derive_reference(splits.train, spec, probs.argmax(axis=1), classes, cfg.monitoring.bins)
    run.record(run.rd.monitoring_reference, ref, event="monitoring_reference_recorded",
               details={"rows": ref["source"]["rows"], "columns": len(ref["columns"])})
