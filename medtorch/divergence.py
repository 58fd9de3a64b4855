"""Stop a run whose training loss or weights stop being finite, as *failed*, naming epoch and step.

A NaN or inf loss makes every later weight NaN; without this guard the run would go on, export
a NaN model and be marked complete. The check keeps a flag on the loss's device and reads it
once before each validation and at each epoch's end, so it adds no host-device
synchronisation per step; the step recorded is the first one whose loss was not finite, also
when the module takes several steps in one Lightning step (``trainer.steps_per_execution``).
"""

from __future__ import annotations

import torch

from medtorch.errors import TrainingDivergedError


def divergence_guard():
    import pytorch_lightning as pl

    class NonFiniteGuard(pl.Callback):
        def __init__(self) -> None:
            self._first_bad: torch.Tensor | None = None  # global step of the first non-finite loss, -1 if none

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if isinstance(outputs, dict) and "losses" in outputs:  # a group of steps (trainer.steps_per_execution)
                self._see(outputs["losses"], outputs["global_steps"])
                return
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs
            if loss is not None:
                self._see(loss.detach().reshape(1), [trainer.global_step])

        def _see(self, losses: torch.Tensor, steps: list[int]) -> None:
            """Keep the global step of the first non-finite loss, on the losses' device (no synchronisation)."""
            if self._first_bad is None or self._first_bad.device != losses.device:
                self._first_bad = torch.full((), -1, dtype=torch.long, device=losses.device)
            finite = torch.isfinite(losses)
            bad = ~finite.all() & (self._first_bad < 0)
            if len(steps) == 1:
                step = torch.full_like(self._first_bad, steps[0])
            else:  # the first non-finite one's step; the step numbers go over from pinned memory, without waiting
                at = torch.tensor(steps)
                if losses.device.type == "cuda":
                    at = at.pin_memory().to(losses.device, non_blocking=True)
                step = at[(~finite).int().argmax()]
            self._first_bad = torch.where(bad, step, self._first_bad)

        def _check(self, trainer, pl_module) -> None:
            epoch = trainer.current_epoch
            if self._first_bad is not None and (step := int(self._first_bad)) >= 0:
                raise TrainingDivergedError(
                    f"training diverged: the training loss was not finite (NaN or inf) at epoch {epoch}, optimizer step "
                    f"{step}. The run is marked failed and no model is exported. Lower optim.lr, set "
                    "trainer.gradient_clip_val, or check the data for extreme values.")
            bad = [n for n, p in pl_module.named_parameters() if not torch.isfinite(p).all()]
            if bad:
                raise TrainingDivergedError(
                    f"training diverged: {len(bad)} weight tensor(s) are not finite after epoch {epoch}, step "
                    f"{trainer.global_step} (first: {bad[0]}). The run is marked failed and no model is exported. "
                    "Lower optim.lr or set trainer.gradient_clip_val.")

        def on_validation_start(self, trainer, pl_module) -> None:
            if not trainer.sanity_checking and trainer.state.fn == "fit":  # before the epoch's checkpoints are written
                self._check(trainer, pl_module)

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            self._check(trainer, pl_module)

    return NonFiniteGuard()
