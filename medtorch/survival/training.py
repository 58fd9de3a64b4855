"""Training of a survival network with Lightning's Trainer, and the export of its best epoch.

The same Trainer settings, checkpoints, early stopping and CSV log as classification
(``medtorch.training``); the module is ``CoxModule`` and the selection metric is ``val/cindex``
(``early_stopping.monitor``'s classification default ``val/mcc`` is read as ``val/cindex``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from medtorch.audit import EventLog
from medtorch.config import to_container
from medtorch.data.tensors import TensorLoader
from medtorch.models.networks import build_network
from medtorch.run import RunDir


def monitor(cfg: DictConfig) -> tuple[str, str]:
    m = cfg.early_stopping.monitor
    if m in ("val/mcc", "val/cindex"):
        return "val/cindex", "max"
    return "val/loss", "min"


def train(cfg: DictConfig, tensors: dict, rd: RunDir, log: EventLog):
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
    from pytorch_lightning.loggers import CSVLogger

    from medtorch.models.module import Unprofiled
    from medtorch.survival.module import CoxModule

    xtr, ytr = tensors["train"]
    xva, yva = tensors["val"]
    network = build_network(cfg.model, xtr.shape[1], 1)  # one output: the risk score
    o, t, es = cfg.optim, cfg.trainer, cfg.early_stopping
    module = CoxModule(network, cfg.survival.ties, lr=o.lr, weight_decay=o.weight_decay, betas=tuple(o.betas),
                       gradient_clip_val=t.gradient_clip_val, gradient_clip_algorithm=t.gradient_clip_algorithm)
    name, mode = monitor(cfg)
    callbacks: list = [ModelCheckpoint(dirpath=rd.checkpoints, filename="best", monitor=name, mode=mode, save_top_k=1,
                                       save_last=True, auto_insert_metric_name=False)]
    if es.enabled:
        callbacks.append(EarlyStopping(monitor=name, mode=mode, patience=es.patience, min_delta=es.min_delta))
    trainer = pl.Trainer(
        accelerator=t.accelerator, devices=1, strategy=t.strategy,  # one device: see survival/checks.py num_nodes=t.num_nodes,
        precision=t.precision, max_epochs=t.max_epochs, min_epochs=t.min_epochs, deterministic=t.deterministic,
        callbacks=callbacks, logger=CSVLogger(save_dir=str(rd.root), name=rd.training_log.parent.name, version=""),
        enable_progress_bar=t.enable_progress_bar, num_sanity_val_steps=0, log_every_n_steps=1,
        default_root_dir=str(rd.root), profiler=t.profiler or Unprofiled(),
    )
    train_loader = TensorLoader(xtr, ytr, t.batch_size, shuffle=True, seed=cfg.seed)
    val_loader = TensorLoader(xva, yva, t.eval_batch_size, pad_shards=False)
    log.append("training_started", {"task": "survival", "loss": f"Cox partial likelihood, {cfg.survival.ties} ties",
                                    "empty_batches": "skipped and counted", "model": to_container(cfg.model),
                                    "optim": to_container(o), "trainer": to_container(t),
                                    "monitor": {"metric": name, "mode": mode},
                                    "parameters": sum(p.numel() for p in network.parameters())})
    from medtorch import heap

    heap.release()  # Lightning and the data steps' libraries are in (medtorch.heap)
    trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader)
    log.append("training_finished", {"epochs": trainer.current_epoch, "skipped_batches": module.skipped_batches})
    return module, trainer


def export_best(cfg, module, trainer, n_features: int, prep, run) -> torch.nn.Module:
    """The best epoch's weights (weights only) and the model spec, recorded through the ``Run``."""
    from medtorch.checkpoints import weights_bytes
    from medtorch.hashing import sha256_bytes

    ckpt = trainer.checkpoint_callback
    best = torch.load(Path(ckpt.best_model_path), map_location="cpu", weights_only=True)
    module.load_state_dict(best["state_dict"], strict=False)
    network = module.network.cpu().eval()
    weights = weights_bytes(network)
    name, mode = monitor(cfg)
    spec = {"task": "survival", "model": to_container(cfg.model), "n_features": n_features, "n_outputs": 1,
            "output": "risk score (log relative hazard); higher = earlier event", "ties": cfg.survival.ties,
            "features": prep.feature_names_, "feature_sources": prep.feature_sources_,
            "selected_by": {"monitor": name, "mode": mode, "best_score": float(ckpt.best_model_score),
                            "best_epoch": int(best["epoch"])},
            "skipped_batches": module.skipped_batches, "weights_sha256": sha256_bytes(weights)}
    run.record_many({run.rd.model_weights: weights, run.rd.model_spec: spec}, event="model_exported",
                    details=spec["selected_by"])
    return network
