"""The parameters of the synthetic clinical cohort (``medtorch/data/cohort.py``), declared once.

The same dataclass is the schema of the ``data.cohort`` config group (``source=synthetic_cohort``)
and the argument of ``generate_cohort``, so a parameter added here is a config key at once. It
lives apart from the generator so that the config imports no numpy or pandas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class CohortSpec:
    """Parameters of the synthetic clinical cohort (medtorch.data.cohort), for source=synthetic_cohort."""

    patients: int = 800
    max_visits: int = 4
    start_year: int = 2015
    years: int = 6
    drift: float = 0.0  # yearly change of the admission log-odds (calendar drift)
    seed: int = 0
    leak_duplicates: float = 0.0  # fraction of rows copied verbatim (0 = none)
    leak_outcome_lab: bool = False
    leak_cause_of_death: bool = False
    leak_identifier: bool = False
    leak_target_copy: bool = False
    leak_outcome_level: bool = False
    leak_follow_up: bool = False
    leak_subject_id: bool = False
    coarse: bool = False
    calendar_ints: bool = False

    @classmethod
    def from_config(cls, cfg: Any) -> "CohortSpec":
        fields = cls.__dataclass_fields__
        items = cfg.items() if hasattr(cfg, "items") else asdict(cfg).items()
        return cls(**{k: v for k, v in items if k in fields})
