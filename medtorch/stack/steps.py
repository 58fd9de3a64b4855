"""The stack's training-time step (``step(cfg, run, state) -> state``, medtorch.steps): the bridge reference."""

from __future__ import annotations

from medtorch.evidence import Run
from medtorch.stack import fingerprint
from medtorch.steps import State


def store_bridge_reference(cfg, run: Run, state: State) -> State:
    """The validation rows (or bridge.reference_file's) in raw form with the model's probabilities, on this stack."""
    from medtorch.stack import reference

    p, rd = state.prepared, run.rd
    rows = p.splits.val
    if cfg.bridge.reference_file:
        rows = reference.rows_from_file(cfg.bridge.reference_file, cfg.bridge.reference_label or cfg.data.target,
                                        p.preprocessor.columns_, p.classes, p.preprocessor.categorical_)
    stack = fingerprint.collect(trainer_precision=str(cfg.trainer.precision))
    record, outputs = reference.store(run, rows.name, rows, p.preprocessor, state.network, p.classes,
                             cfg.trainer.eval_batch_size, stack)
    run.update_manifest(stack=stack)
    run.event("bridge_reference_stored", {"split": rows.name, "rows": record["n"], "stack_hash": stack["hash"]},
              inputs=[rd.model_weights, rd.preprocessing], outputs=outputs)
    return state
