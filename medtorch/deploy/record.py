"""Training-time steps that leave what deployment needs in the run directory.

``record_spec``: the data specification (derived from the training rows, or the user's
locked pre-defined file, enforced on every row the run loaded). ``record_reference``: the
training distributions monitoring compares new data with.
"""

from __future__ import annotations

from medtorch.audit import EventLog, file_hashes
from medtorch.data.split import Splits
from medtorch.data.transforms import TabularPreprocessor
from medtorch.deploy.spec import DataSpec, derive, load_predefined
from medtorch.errors import MedtorchError
from medtorch.run import RunDir, write_json


def known_columns(data_cfg) -> list[str]:
    """Columns of the data the run knows but does not use as features: accepted in inputs, not checked."""
    names = [data_cfg.get(k) for k in ("target", "id_column", "subject_column", "time_column")]
    names += list(data_cfg.get("subgroup_columns", [])) + list(data_cfg.get("drop", []))
    return sorted({str(n) for n in names if n})


def record_spec(cfg, splits: Splits, prep: TabularPreprocessor, rd: RunDir, log: EventLog, manifest: dict) -> DataSpec:
    known = known_columns(cfg.data)
    if cfg.spec.path:
        spec = load_predefined(cfg.spec.path, cfg.spec.sha256, list(splits.train.frame.columns), known)
        _enforce(spec, splits, prep)
    else:
        spec = derive(splits.train, cfg.spec, known)
    write_json(rd.data_spec, spec.to_dict())
    hashes = file_hashes(rd.root, [rd.data_spec])
    manifest["data_spec"] = {"origin": spec.origin, "sha256": hashes[rd.data_spec.name], **(
        {"predefined_file": spec.source} if spec.origin == "predefined" else {})}
    write_json(rd.manifest, manifest)
    log.append("data_spec_recorded", {"origin": spec.origin, "columns": len(spec.columns), "source": spec.source},
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


def record_reference(cfg, network, splits: Splits, prep: TabularPreprocessor, classes: list[str], spec: DataSpec,
                     rd: RunDir, log: EventLog) -> None:
    from medtorch.deploy.reference import derive_reference
    from medtorch.models.inference import predict_proba

    probs = predict_proba(network, prep.transform(splits.train.frame), cfg.trainer.eval_batch_size)
    ref = derive_reference(splits.train, spec, probs.argmax(axis=1), classes, cfg.monitoring.bins)
    write_json(rd.monitoring_reference, ref)
    log.append("monitoring_reference_recorded", {"rows": ref["source"]["rows"], "columns": len(ref["columns"])},
               outputs=file_hashes(rd.root, [rd.monitoring_reference]))
