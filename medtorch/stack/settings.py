"""Inference settings, applied before a model is used, so that they are part of the stack.

A run's numbers depend on the numeric settings in force (deterministic algorithms, TF32,
float32 matmul precision, cuDNN benchmark) and on how inference is run (intra-op threads,
dtype, device). ``apply`` puts the run's own settings from its config in force, with the
user's choices (``--threads``, ``--dtype``) on top, and returns the fingerprint of the
resulting stack. Changing a setting changes the fingerprint hash, and so calls for a bridge.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from medtorch.errors import MedtorchError

DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class InferenceSettings:
    threads: int | None = None  # None: the run's trainer.num_threads, else torch's default
    dtype: str = "float32"  # the model is exported in float32; float64 runs it in double precision
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise MedtorchError(f"inference dtype must be one of {DTYPES}; got {self.dtype!r}.")
        if self.threads is not None and self.threads < 1:
            raise MedtorchError(f"--threads must be >= 1; got {self.threads}.")
        if self.device not in ("cpu", "cuda"):
            raise MedtorchError(f"inference device must be 'cpu' or 'cuda'; got {self.device!r}.")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply(config: Mapping[str, Any], settings: InferenceSettings) -> dict[str, Any]:
    """Put the run's numeric settings and ``settings`` in force; return the stack fingerprint."""
    import torch

    from medtorch.stack.fingerprint import collect

    trainer = dict(config.get("trainer") or {})
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise MedtorchError("--device cuda was asked for, but this machine has no CUDA device; use --device cpu.")
    from medtorch.numerics import put_in_force

    put_in_force(threads=settings.threads or trainer.get("num_threads"),
                 matmul_precision=trainer.get("matmul_precision", "highest"),
                 deterministic=trainer.get("deterministic", True))
    return collect(inference_dtype=settings.dtype, inference_device=settings.device,
                   trainer_precision=str(trainer.get("precision")) if trainer.get("precision") else None)


def stack_of(loaded, needed_for: str) -> dict[str, Any]:
    """The fingerprint of the stack ``loaded`` (a ``LoadedRun``) was put on by ``medtorch.stack.gate.put_on_stack``
    (or ``require_bridged_stack``); a run not on a stack yet is refused."""
    if loaded.stack is None or loaded.settings is None:
        raise MedtorchError(f"{loaded.rd.root}: the run is not on a stack yet; call "
                            f"medtorch.stack.gate.put_on_stack(loaded) (or require_bridged_stack) before {needed_for}, "
                            "so the settings it runs under are known and recorded.")
    return loaded.stack


# ------------------------------------------------------------------ command-line options
def add_arguments(parser: argparse.ArgumentParser, override: bool = True) -> None:
    """``--threads``, ``--dtype``, ``--device`` (and ``--override-bridge``) for any verb that loads a model."""
    g = parser.add_argument_group("stack (each choice is part of the stack fingerprint)")
    d = InferenceSettings()
    g.add_argument("--threads", type=int, default=d.threads, help="torch intra-op threads for inference")
    g.add_argument("--dtype", choices=DTYPES, default=d.dtype, help=f"inference dtype (default {d.dtype})")
    g.add_argument("--device", choices=("cpu", "cuda"), default=d.device, help=f"inference device (default {d.device})")
    if override:
        g.add_argument("--override-bridge", metavar="REASON", default=None,
                       help="go on although the bridge re-evaluation failed on this stack; the reason is recorded")


def defaults() -> dict[str, Any]:
    """The options ``add_arguments`` adds, at their defaults (keyed as on the parsed arguments)."""
    return {**InferenceSettings().as_dict(), "override_bridge": None}


def from_args(args: argparse.Namespace) -> InferenceSettings:
    return InferenceSettings(threads=args.threads, dtype=args.dtype, device=args.device)


def load_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for ``load_run`` from the options added by ``add_arguments``."""
    return {"settings": from_args(args), "override_reason": getattr(args, "override_bridge", None)}
