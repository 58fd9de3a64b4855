"""The rows a finished run is explained on, rebuilt from its data and checked by hash.

A run stores no copy of its data; it stores the data's sha256 and each split's row-id hash.
The data are loaded again as the run's config says, split again with the run's seed and
fractions, and both hashes must match: otherwise the explanation would be of other rows.
"""

from __future__ import annotations

import torch
from omegaconf import OmegaConf

from medtorch.data import sources
from medtorch.data.governance import split_table
from medtorch.errors import IntegrityError
from medtorch.explain.explanation import ExplainInputs
from medtorch.explain.step import subjects_of
from medtorch.loading import LoadedRun


def inputs_for_run(loaded: LoadedRun, split: str) -> ExplainInputs:
    cfg = loaded.config
    raw = sources.load(OmegaConf.create(cfg["data"]))
    recorded = loaded.manifest.get("data", {}).get("sha256")
    if raw.source["sha256"] != recorded:
        raise IntegrityError(
            f"{loaded.rd.root}: the data loaded from the run's config (sha256 {raw.source['sha256'][:16]}...) are not the "
            f"data the run was trained on (sha256 {str(recorded)[:16]}...). Point data.path at the original file."
        )
    splits = split_table(OmegaConf.create(cfg), raw)  # exactly as the run split its data
    part = splits.parts()[split]
    expected = loaded.manifest.get("splits", {}).get(split)
    if part.ids_sha256 != expected:
        raise IntegrityError(f"{loaded.rd.root}: the {split} rows rebuilt from the data differ from the run's "
                             f"(row-id sha256 {part.ids_sha256[:16]}... vs {str(expected)[:16]}...).")
    prep = loaded.preprocessor
    return ExplainInputs(
        network=loaded.network, model_name=loaded.spec["model"]["name"], classes=loaded.classes,
        feature_names=list(loaded.spec["features"]), feature_sources=list(loaded.spec["feature_sources"]),
        split=split, x=torch.from_numpy(prep.transform(part.frame)), y=part.y, ids=part.ids, raw=part.frame,
        x_train=torch.from_numpy(prep.transform(splits.train.frame)),
        data_sha256=raw.source["sha256"], split_sha256=part.ids_sha256, y_train=splits.train.y, preprocessor=prep,
        subjects=subjects_of(part.extra, cfg["data"].get("subject_column")),
    )
