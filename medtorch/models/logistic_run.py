"""The training step of a ``model=logistic`` run: a converged fit instead of Lightning's loop.

The transparent baseline must be the best logistic regression the data allow, not whatever
epoch early stopping kept: scikit-learn's L-BFGS fits it to convergence for each L2 strength C
of ``model.c_grid`` and the validation rows pick C (``medtorch.models.transparent``). The fit
is exported like any run's model, the model weights holding one linear layer and the model spec its
spec, so predict, bridge, explain and monitor need nothing special for it.
"""

from __future__ import annotations

import torch

from medtorch.config import to_container
from medtorch.data.prepared import Prepared
from medtorch.evidence import Run
from medtorch.hashing import sha256_bytes
from medtorch.models.transparent import fit_logistic, to_network


def fit_and_export(cfg, prepared: Prepared, run: Run) -> tuple[torch.nn.Module, dict]:
    """Fit the logistic regression on the training rows, choose C on validation, write the weights and spec;
    returns the network and how it was selected."""
    from medtorch.checkpoints import weights_bytes

    m, rd, log = cfg.model, run.rd, run.log
    xtr, ytr = prepared.tensors["train"]
    xva, yva = prepared.tensors["val"]
    log.append("training_started", {"model": to_container(m), "fit": "scikit-learn LogisticRegression (L-BFGS) per C",
                                    "parameters": (xtr.shape[1] + 1) * len(prepared.classes)})
    fit = fit_logistic(xtr.double().numpy(), ytr.numpy(), xva.double().numpy(), yva.numpy(), len(prepared.classes),
                       list(m.c_grid), float(m.tol), int(m.max_iter))
    network = to_network(fit)
    weights = weights_bytes(network)
    selected = {"monitor": "val/log_loss", "mode": "min", "best_score": fit.settings["val_log_loss"], "best_epoch": None,
                "C": fit.settings["C"], "converged": fit.settings["converged"], "iterations": fit.settings["iterations"],
                "search_solver": fit.settings["search_solver"], "grid": fit.settings["grid"],
                "note": "C chosen on the validation rows: their score of the chosen C is optimistic; the governed "
                        "test look is the unbiased figure"}
    spec = {
        "model": to_container(m),
        "n_features": int(xtr.shape[1]),
        "n_classes": len(prepared.classes),
        "classes": prepared.classes,
        "features": prepared.preprocessor.feature_names_,
        "feature_sources": prepared.preprocessor.feature_sources_,
        "selected_by": selected,
        "weights_sha256": sha256_bytes(weights),
    }
    log.append("training_finished", {"C": fit.settings["C"], "converged": fit.settings["converged"],
                                     "iterations": fit.settings["iterations"]})
    run.record_many({rd.model_weights: weights, rd.model_spec: spec}, event="model_exported",
                    details={k: v for k, v in selected.items() if k != "grid"})
    if not fit.settings["converged"]:
        print(f"medtorch: warning: the logistic regression at C={fit.settings['C']:g} did not converge in "
              f"{m.max_iter} iterations; raise model.max_iter.", flush=True)
    return network, selected
