"""The stack fingerprint stamped on every prediction: which software and hardware made it."""

from __future__ import annotations

from typing import Any


def stack_fingerprint(loaded) -> tuple[str, dict[str, Any]]:
    """(hash, fingerprint) of the stack ``loaded`` runs on (see medtorch.stack.fingerprint).

    That is the stack ``medtorch.stack.gate.require_bridged_stack`` put the run on, with the verb's settings
    (``--dtype``, ``--threads``, ``--device``) in force: the stack the predictions are computed on, the one
    its bridge report is named after, not a fresh default one.
    """
    from medtorch.stack.settings import stack_of

    fp = stack_of(loaded, "stamping its predictions")
    return fp["hash"], fp
