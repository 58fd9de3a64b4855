"""The evaluation horizons of a survival run in the data's duration unit, and the check that the data
can support them."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from medtorch.errors import MedtorchError
from medtorch.survival.data import in_duration_unit


def horizons_in_duration_unit(cfg) -> list[float]:
    return [in_duration_unit(h, cfg.evaluation.horizon_unit, cfg.data.duration_unit) for h in cfg.evaluation.horizons]


def require_follow_up(cfg, times: Mapping[str, np.ndarray]) -> None:
    """Refuse a horizon at or beyond the longest follow-up of any of ``times`` (name -> follow-up times).

    At such a horizon nobody is still at risk: the Brier score's controls, the time-dependent AUC's
    controls and the censoring weight G(t) are all missing, so a score there would be a number about
    nobody. scikit-survival refuses these times in the same way ("all times must be within follow-up
    time of test data").
    """
    ev, unit = cfg.evaluation, cfg.data.duration_unit
    for name, t in times.items():
        longest = float(np.max(t)) if len(t) else 0.0
        for h, hd in zip(ev.horizons, horizons_in_duration_unit(cfg)):
            if hd >= longest:
                raise MedtorchError(
                    f"evaluation.horizons: {h:g} {ev.horizon_unit}(s) ({hd:g} {unit}s) is not within the follow-up of "
                    f"the {name}: its longest follow-up is {longest:g} {unit}s ("
                    f"{longest / in_duration_unit(1, ev.horizon_unit, unit):.3g} {ev.horizon_unit}s), so nobody is "
                    "still at risk there and no score at that horizon would mean anything. Choose horizons shorter "
                    "than the longest follow-up in every split.")
