"""split.seed apart from seed: one sealed test set across training seeds; compare says which variance it measured."""

from __future__ import annotations

from omegaconf import OmegaConf

from medtorch.data import sources
from medtorch.data.governance import split_table
from medtorch.stack.variation import variation


def _cfg(seed: int, split_seed: int | None):
    split = {"strategy": "stratified", "train": 0.7, "val": 0.15, "test": 0.15, "train_end": None, "val_end": None,
             "test_path": None, "new_subjects_only": True}
    if split_seed is not None:
        split["seed"] = split_seed
    return OmegaConf.create({"seed": seed, "split": split,
                             "data": {"name": "bc", "source": "breast_cancer", "subject_column": None, "time_column": None}})


def test_training_seed_leaves_the_split_alone_and_old_configs_still_split_by_seed():
    raw = sources.load(OmegaConf.create({"name": "bc", "source": "breast_cancer", "path": None, "target": None, "format": "auto",
                                         "id_column": None, "categorical": [], "drop": [], "subject_column": None,
                                         "time_column": None, "subgroup_columns": []}))
    a, b = split_table(_cfg(1, 0), raw), split_table(_cfg(2, 0), raw)
    assert a.test.ids_sha256 == b.test.ids_sha256 and a.val.ids_sha256 == b.val.ids_sha256
    assert split_table(_cfg(1, 5), raw).test.ids_sha256 != a.test.ids_sha256  # the split follows split.seed
    old1, old2 = split_table(_cfg(1, None), raw), split_table(_cfg(2, None), raw)  # config.yaml of an older run
    assert old1.test.ids_sha256 != old2.test.ids_sha256


def test_compare_says_which_variance_it_measured():
    def run(i, seed, split_seed, mcc):
        config = {"model.lr": 1} | ({} if split_seed is None else {"split.seed": split_seed})
        return {"index": i, "seed": seed, "stack_hash": "s", "config": config, "metrics": {"val": {"mcc": mcc}}}

    training = variation([run(0, 1, 0, 0.8), run(1, 2, 0, 0.9)])
    assert len(training) == 1 and training[0]["measured"].startswith("training variance: one split (split.seed=0)")
    from medtorch.stack.variation import to_markdown

    assert "Variance measured: training variance: one split (split.seed=0), seeds [1, 2]." in "\n".join(to_markdown(training))
    split = variation([run(0, 1, 0, 0.8), run(1, 1, 3, 0.7)])
    assert split[0]["measured"].startswith("split variance")
    old = variation([run(0, 1, None, 0.8), run(1, 2, None, 0.9)])
    assert old[0]["measured"].startswith("training and split variance together")


def test_cross_validation_folds_follow_split_seed_not_seed():
    from medtorch.evaluation.crossval import fold_splits

    raw = sources.load(OmegaConf.create({"name": "bc", "source": "breast_cancer"}))

    def fold_val_ids(seed, split_seed):
        cfg = _cfg(seed, split_seed)
        cfg.cv = {"folds": 3, "fold": 1}
        out, _ = fold_splits(cfg, split_table(cfg, raw))
        return out.val.ids_sha256

    assert fold_val_ids(1, 0) == fold_val_ids(2, 0)
    assert fold_val_ids(1, 0) != fold_val_ids(1, 4)
