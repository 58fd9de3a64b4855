"""The training steps of a run: determinism, Lightning's Trainer, and the export of the best epoch.

``set_determinism`` seeds every generator and fixes the numeric settings; ``train`` builds the
module, the index-slice loaders and the Trainer (checkpoints, early stopping, the CSV log) and
fits, resuming from a checkpoint when given one; ``export_best`` restores the best epoch and
writes the model weights (weights only) with the model spec. Each records what it did in the event log.
The ``*_step`` functions are their ``step(cfg, run, state) -> state`` form (medtorch.steps):
determinism and training run on every DDP rank, the export on rank 0.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from medtorch import heap
from medtorch.checkpoints import checkpoint_callbacks, checkpoint_io, load_verified, weights_bytes
from medtorch.config import to_container
from medtorch.data.tensors import TensorLoader
from medtorch.data.prepared import Prepared
from medtorch.divergence import divergence_guard
from medtorch.evidence import Run
from medtorch.hashing import sha256_bytes
from medtorch.models.networks import build_network
from medtorch.resume import fault_injection_callback
from medtorch.steps import State


def determinism_step(cfg: DictConfig, run: Run, state: State) -> State:
    set_determinism(cfg)
    return state


def train_step(cfg: DictConfig, run: Run, state: State) -> State:
    """Lightning's loop on every rank; the transparent logistic baseline is fitted to convergence by rank 0 alone."""
    if cfg.model.name == "logistic":
        heap.release()  # no Lightning loop to wait for (medtorch.heap)
        if run.writes:
            from medtorch.models.logistic_run import fit_and_export

            state.network, state.metrics["selected_by"] = fit_and_export(cfg, state.prepared, run)
        return state
    state.module, state.trainer = train(cfg, state.prepared, run, state.resume_from)
    return state


def export_step(cfg: DictConfig, run: Run, state: State) -> State:
    if state.module is not None:  # the logistic baseline exported itself
        state.network, state.metrics["selected_by"] = export_best(cfg, state.module, state.trainer, state.prepared, run)
    return state


def set_determinism(cfg: DictConfig) -> None:
    """Seed every generator (seed 0 included) and fix the numeric settings that change results.

    Done by hand rather than with Lightning's seed_everything so that bad input fails before
    Lightning is imported; the same generators are seeded, and PL_GLOBAL_SEED is set as
    Lightning would set it.
    """
    import random

    from medtorch.numerics import put_in_force

    put_in_force(threads=cfg.trainer.num_threads, matmul_precision=cfg.trainer.matmul_precision)
    os.environ["PL_GLOBAL_SEED"] = str(cfg.seed)
    os.environ["PL_SEED_WORKERS"] = "1"
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)  # seeds CUDA too


def train(cfg: DictConfig, prepared: Prepared, run: Run, resume_from: Path | None = None):
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import EarlyStopping
    from pytorch_lightning.plugins.environments import SLURMEnvironment

    from medtorch import extensions
    from medtorch.models.module import Classifier
    from medtorch.progress import progress_enabled, silence_known_noise

    rd, log = run.rd, run.log
    xtr, ytr = prepared.tensors["train"]
    xva, yva = prepared.tensors["val"]
    network = build_network(cfg.model, xtr.shape[1], len(prepared.classes))
    o = cfg.optim
    bal = prepared.balance
    weights = torch.tensor(bal.class_weights, dtype=torch.float32) if bal and bal.class_weights is not None else None
    module = Classifier(network, prepared.classes, lr=o.lr, weight_decay=o.weight_decay, betas=tuple(o.betas),
                        class_weights=weights, gradient_clip_val=cfg.trainer.gradient_clip_val,
                        gradient_clip_algorithm=cfg.trainer.gradient_clip_algorithm,
                        scheduler=extensions.scheduler_factory(cfg),
                        accumulate_grad_batches=cfg.trainer.accumulate_grad_batches)
    t, es = cfg.trainer, cfg.early_stopping
    # the best epoch, the last epoch every epoch (and every N steps), each hashed into the event log
    callbacks: list = [*checkpoint_callbacks(cfg, rd), divergence_guard()]
    if es.enabled:
        callbacks.append(EarlyStopping(monitor=es.monitor, mode=es.mode, patience=es.patience, min_delta=es.min_delta))
    if (fault := fault_injection_callback()) is not None:
        callbacks.append(fault)
    callbacks += extensions.build_callbacks(cfg)  # the user's, beside medtorch's own
    silence_known_noise()
    plugins: list = [checkpoint_io(log, rd.root)]  # atomic, recorded writes; verified, weights-only loads
    if SLURMEnvironment.detect():
        plugins.append(SLURMEnvironment(auto_requeue=False))  # submitit owns requeueing (medtorch.resume)
    trainer = pl.Trainer(
        accelerator=t.accelerator, devices=t.devices, strategy=t.strategy, num_nodes=t.num_nodes,
        precision=t.precision, max_epochs=t.max_epochs, min_epochs=t.min_epochs, deterministic=t.deterministic,
        callbacks=callbacks, logger=extensions.build_loggers(cfg, rd.root) or False,
        enable_progress_bar=t.enable_progress_bar and progress_enabled(cfg.get("progress", "auto")),
        num_sanity_val_steps=0, log_every_n_steps=t.log_every_n_steps,
        default_root_dir=str(rd.root), plugins=plugins,
        **extensions.trainer_flags(t),
    )
    train_loader = TensorLoader(xtr, ytr, t.batch_size, shuffle=True, seed=cfg.seed,
                                row_weights=torch.from_numpy(bal.row_weights) if bal and bal.row_weights is not None else None,
                                noise_std=bal.noise_std if bal else 0.0, noise_columns=len(prepared.preprocessor.numeric_),
                                mixup_alpha=bal.mixup_alpha if bal else 0.0,
                                steps_per_execution=extensions.steps_per_execution(cfg, trainer.num_devices * trainer.num_nodes))
    val_loader = TensorLoader(xva, yva, t.eval_batch_size, pad_shards=False)
    log.append("training_started", {"model": to_container(cfg.model), "optim": to_container(cfg.optim),
                                    "trainer": to_container(cfg.trainer), "early_stopping": to_container(es),
                                    "parameters": sum(p.numel() for p in network.parameters()),
                                    "steps_per_execution": train_loader.steps_per_execution})
    heap.release()  # Lightning and the data steps' libraries are in (medtorch.heap)
    trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader,
                ckpt_path=str(resume_from) if resume_from else None, weights_only=True)
    log.append("training_finished", {"epochs": trainer.current_epoch, "stopped_early": bool(trainer.should_stop and trainer.current_epoch < t.max_epochs)})
    return module, trainer


def export_best(cfg, module, trainer, prepared: Prepared, run: Run) -> tuple[torch.nn.Module, dict]:
    """Load the best epoch's weights and save them (weights only) with the model spec; (network, selected_by)."""
    ckpt_cb = trainer.checkpoint_callback
    if cfg.trainer.fast_dev_run:  # Lightning checkpoints nothing in a smoke run: the last weights, not a selection
        from medtorch.smoke import smoke_checkpoint

        best, ckpt_cb = smoke_checkpoint(module, trainer, cfg)
    else:
        best_path = Path(ckpt_cb.best_model_path)
        best = load_verified(best_path)  # its recorded hash first, then weights only
    module.load_state_dict(best["state_dict"], strict=False)
    network = module.network.cpu().eval()
    weights = weights_bytes(network)
    best_epoch = best["epoch"]
    spec = {
        "model": to_container(cfg.model),
        "n_features": int(prepared.tensors["train"][0].shape[1]),
        "n_classes": len(prepared.classes),
        "classes": prepared.classes,
        "features": prepared.preprocessor.feature_names_,
        "feature_sources": prepared.preprocessor.feature_sources_,
        "selected_by": {"monitor": cfg.early_stopping.monitor, "mode": cfg.early_stopping.mode,
                        "best_score": float(ckpt_cb.best_model_score), "best_epoch": int(best_epoch)},
        "weights_sha256": sha256_bytes(weights),
    }
    run.record_many({run.rd.model_weights: weights, run.rd.model_spec: spec}, event="model_exported",
                    details=spec["selected_by"])
    return network, spec["selected_by"]
