"""The numeric settings that change results, put in force in one place.

Training (``training.set_determinism``) and every verb that runs the model on a stack
(``stack.settings.apply``) both call ``put_in_force``, so the two cannot drift apart: the same
thread count, matmul precision, TF32 and cuDNN choices, and cuBLAS workspace for determinism.
"""

from __future__ import annotations

import os


def put_in_force(*, threads: int | None, matmul_precision: str, deterministic: bool | str | None = None) -> None:
    """Put the numeric settings in force. ``deterministic``: None leaves torch's deterministic-algorithms
    switch to the caller (Lightning's Trainer sets it from ``trainer.deterministic``); True, False or "warn"
    set it here."""
    import torch

    if deterministic is None or deterministic:
        # cuBLAS needs this before CUDA initialises to be deterministic
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if threads:
        torch.set_num_threads(int(threads))
    if deterministic is not None:
        torch.use_deterministic_algorithms(deterministic is True or deterministic == "warn",
                                           warn_only=deterministic == "warn")
    torch.set_float32_matmul_precision(matmul_precision)
    torch.backends.cudnn.allow_tf32 = matmul_precision != "highest"
    torch.backends.cudnn.benchmark = False
