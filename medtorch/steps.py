"""The shape of a training run: named steps ``step(cfg, run, state) -> state``, run in order.

Each step declares whether it runs on every DDP rank (what training needs: determinism, data,
split, preprocessing, rebalancing, training) or on rank 0 only (evidence no other rank needs:
EDA, leakage, explanations, references, the report). Ranks other than 0 run the same list with
a ``Run`` that writes nothing (``Run.null``), so a training-input step added to the list reaches
every rank by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from medtorch.data.prepared import Prepared
from medtorch.evidence import Run

EVERY_RANK, RANK_ZERO = "every rank", "rank 0"


@dataclass
class State:
    """What one step hands to the next."""

    resume_from: Path | None = None
    evidence_before_resume: dict[str, str] | None = None  # a resumed run's split/preprocessing hashes, checked on re-derivation
    raw: Any = None  # medtorch.data.sources.RawTable
    prepared: Prepared | None = None
    leakage: Any = None
    spec: Any = None  # medtorch.deploy.spec.DataSpec
    module: Any = None
    trainer: Any = None
    network: Any = None
    val_probs: Any = None  # validation probabilities, computed once
    transparent: Any = None  # medtorch.background.Pending: the transparent baselines, fitted beside training
    explaining: Any = None  # medtorch.background.Pending: explanations at work beside the validation steps
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    name: str
    fn: Callable[[Any, Run, State], State]
    ranks: str = RANK_ZERO
    progress: str | None = None  # shown on a terminal as this step starts (None: the current line stays)

    def runs_here(self, rank_zero: bool) -> bool:
        return rank_zero or self.ranks == EVERY_RANK


def run_steps(cfg, run: Run, state: State, steps: tuple[Step, ...], rank_zero: bool = True, progress=None) -> State:
    """Run each step this rank takes part in, in order."""
    for step in steps:
        if not step.runs_here(rank_zero):
            continue
        if progress is not None and step.progress:
            progress.pause() if step.progress == "pause" else progress.begin(step.progress)
        state = step.fn(cfg, run, state)
    return state
