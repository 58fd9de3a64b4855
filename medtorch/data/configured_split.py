"""The split a run's config asks for: the one function both the pipeline and a lineage replay call,
so a replay splits the data exactly as the run did.

Apart from ``governance`` (which records the lineage) so that ``lineage.replay_split`` can call it
without an import cycle.
"""

from __future__ import annotations

from typing import Any

from medtorch.data import sources
from medtorch.data.split import Splits, make_split


def split_table(cfg: Any, raw: sources.RawTable) -> Splits:
    s, d = cfg.split, cfg.data
    seed = s.seed if "seed" in s else cfg.seed  # runs made before split.seed existed split by ``seed``
    external = None
    if s.strategy == "external":
        external = sources.load_external_test(d, s.test_path, raw.classes)
    return make_split(raw, s.strategy, s.train, s.val, s.test, seed, subject=d.subject_column,
                      time=d.time_column, train_end=s.train_end, val_end=s.val_end, external=external,
                      new_subjects_only=s.new_subjects_only)


def load_and_split(cfg: Any) -> tuple[sources.RawTable, Splits]:
    raw = sources.load(cfg.data)
    return raw, split_table(cfg, raw)
