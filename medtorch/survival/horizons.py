"""The evaluation horizons of a survival run in the data's duration unit, and the check that the data
can support them."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from medtorch.errors import MedtorchError
from medtorch.survival.data import in_duration_unit

# what the user can do, by where the refused follow-up comes from
TRAINING_FIX = ("Choose horizons shorter than the longest follow-up of every split (for the test split, a split that "
                "leaves it followed up long enough will do too).")
TEST_SPLIT_FIX = ("This run's horizons were fixed at training: evaluate it on new test data followed up beyond them "
                  "(--test-data), or train a new run with shorter horizons.")
NEW_DATA_FIX = "Evaluate on test data whose patients were followed up beyond every horizon."


def horizons_in_duration_unit(cfg) -> list[float]:
    return [in_duration_unit(h, cfg.evaluation.horizon_unit, cfg.data.duration_unit) for h in cfg.evaluation.horizons]


def _plural(value: float, unit: str) -> str:
    return f"{value:.6g} {unit}" + ("" if value == 1 else "s")


def require_follow_up(cfg, times: Mapping[str, np.ndarray], fix: str = TRAINING_FIX) -> None:
    """Refuse a horizon at or beyond the longest follow-up of any of ``times`` (name -> follow-up times).

    At such a horizon nobody is still at risk: the Brier score's controls, the time-dependent AUC's
    controls and the censoring weight G(t) are all missing, so a score there would be a number about
    nobody. scikit-survival refuses these times in the same way ("all times must be within follow-up
    time of test data").
    """
    unit_h, unit_d = cfg.evaluation.horizon_unit, cfg.data.duration_unit
    both = (lambda d: _plural(d, unit_d)) if unit_h == unit_d else \
        (lambda d: f"{_plural(d, unit_d)} ({_plural(d / in_duration_unit(1, unit_h, unit_d), unit_h)})")
    for name, t in times.items():
        longest = float(np.max(t)) if len(t) else 0.0
        for h, hd in zip(cfg.evaluation.horizons, horizons_in_duration_unit(cfg)):
            if hd >= longest:
                horizon = _plural(h, unit_h) + ("" if unit_h == unit_d else f" ({_plural(hd, unit_d)})")
                raise MedtorchError(
                    f"evaluation.horizons: {horizon} is not within the follow-up of the {name}: its longest "
                    f"follow-up is {both(longest)}, so nobody is still at risk there and no score at that horizon "
                    f"would mean anything. {fix}")
