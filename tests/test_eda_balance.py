"""EDA numbers against pandas/NumPy references; rebalancing against scikit-learn and counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf
from sklearn.utils.class_weight import compute_class_weight

from medtorch.config import BalanceConfig, DataConfig, EDAConfig
from medtorch.data import sources
from medtorch.data.balance import plan_balance
from medtorch.data.eda import eda_markdown, eda_plots, explore
from medtorch.data.split import make_split
from medtorch.data.tensors import TensorLoader


@pytest.fixture(scope="module")
def splits():
    d = OmegaConf.structured(DataConfig(
        name="c", source="synthetic_cohort", target="outcome", id_column="visit_id", subject_column="patient_id",
        time_column="visit_date", subgroup_columns=["sex", "site"], categorical=["smoker"]))
    raw = sources.load(d)
    return raw, make_split(raw, "grouped", 0.7, 0.15, 0.15, 0, subject="patient_id", time="visit_date")


def balance_cfg(**kw):
    return OmegaConf.merge(OmegaConf.structured(BalanceConfig), kw)


def test_eda_numbers_match_pandas(splits, tmp_path):
    raw, s = splits
    eda_cfg = OmegaConf.merge(OmegaConf.structured(EDAConfig), {"reference": {"site": {"E": 0.2, "A": 0.3}}})
    eda = explore(s.parts(), raw.classes, ["sex", "site"], "visit_date", eda_cfg, {"oversample": "none"})
    tr = s.train
    e = eda["splits"]["train"]
    assert e["rows"] == len(tr)
    assert e["class_counts"] == {c: int((tr.y == k).sum()) for k, c in enumerate(raw.classes)}
    assert e["missing_share"]["hba1c"] == round(tr.frame["hba1c"].isna().mean(), 4)
    ref = tr.frame["creatinine"].describe()
    for ours, theirs in (("mean", "mean"), ("min", "min"), ("p25", "25%"), ("median", "50%"), ("max", "max")):
        assert e["numeric"]["creatinine"][ours] == pytest.approx(ref[theirs], rel=1e-12)
    assert e["numeric"]["creatinine"]["sd"] == pytest.approx(tr.frame["creatinine"].std(ddof=0), rel=1e-12)
    assert e["categories"]["site"]["top"] == tr.frame["site"].value_counts().to_dict()
    site = eda["representativeness"]["site"]
    assert site["splits"]["train"]["E"]["rows"] == int((tr.extra["site"] == "E").sum())
    died = (tr.y[tr.extra["site"].to_numpy() == "E"] == raw.classes.index("died")).mean()
    assert site["splits"]["train"]["E"]["label_rates"]["died"] == pytest.approx(died, abs=1e-4)
    flagged = {(f["split"], f["value"]) for f in site["under_represented"]}
    assert ("train", "E") in flagged and not any(v == "A" for _, v in flagged)  # ~4% vs 20% flagged; A is near 30%
    years = pd.Series(tr.extra["visit_date"].dt.year).value_counts()
    assert {int(k): v["rows"] for k, v in eda["calendar"]["train"].items()} == years.to_dict()
    counts = np.bincount(tr.y)
    assert eda["class_imbalance"]["ratio_majority_to_minority"] == pytest.approx(counts.max() / counts.min())
    md = eda_markdown(eda, None)
    assert "**under-represented**: E in train" in md
    paths = eda_plots(eda, lambda name: tmp_path / f"{name}.png")
    assert {p.name for p in paths} == {"classes.png", "missingness.png", "subgroup_sex.png", "subgroup_site.png",
                                       "calendar.png"}


def test_class_weights_match_scikit_learn(splits):
    raw, s = splits
    plan = plan_balance(balance_cfg(class_weights="balanced"), s.train, raw.classes, 7)
    ref = compute_class_weight("balanced", classes=np.arange(3), y=s.train.y)
    np.testing.assert_allclose(plan.class_weights, ref, rtol=1e-12)
    assert plan.row_weights is None  # class weights alone do not resample


def test_oversampling_draws_classes_and_subgroups_as_planned(splits):
    raw, s = splits
    plan = plan_balance(balance_cfg(oversample="balanced", oversample_subgroups={"site": {"E": 3.0}}),
                        s.train, raw.classes, 7)
    y = torch.from_numpy(s.train.y)
    x = torch.arange(len(y), dtype=torch.float32)[:, None]
    loader = TensorLoader(x, y, 256, shuffle=True, seed=0, row_weights=torch.from_numpy(plan.row_weights))
    drawn = []
    for epoch in range(20):
        loader.set_epoch(epoch)
        drawn.append(torch.cat([b[0][:, 0] for b in loader]).long())
    rows = torch.cat(drawn).numpy()
    share = np.bincount(s.train.y[rows], minlength=3) / len(rows)
    for k, c in enumerate(raw.classes):
        assert share[k] == pytest.approx(plan.record["class_share_drawn"][c], abs=0.02)
    site = s.train.extra["site"].to_numpy()
    assert (site[rows] == "E").mean() == pytest.approx(plan.record["site_share_drawn"]["E"], abs=0.02)
    assert plan.record["site_share_drawn"]["E"] > 2 * plan.record["site_share_raw"]["E"]
    loader.set_epoch(3)
    again = torch.cat([b[0][:, 0] for b in loader]).long()
    assert torch.equal(again, drawn[3]) and not torch.equal(drawn[3], drawn[4])  # seeded by (seed, epoch)


def test_noise_touches_only_numeric_columns_of_training_batches():
    x = torch.zeros(100, 5)
    y = torch.zeros(100, dtype=torch.long)
    noisy = torch.cat([b[0] for b in TensorLoader(x, y, 32, shuffle=True, noise_std=0.5, noise_columns=3)])
    assert noisy[:, :3].std() == pytest.approx(0.5, abs=0.1) and torch.all(noisy[:, 3:] == 0)
    plain = torch.cat([b[0] for b in TensorLoader(x, y, 32)])  # the default: no augmentation
    assert torch.all(plain == 0)


def test_unknown_subgroup_value_is_named(splits):
    raw, s = splits
    from medtorch.errors import MedtorchError

    with pytest.raises(MedtorchError, match=r"site\.Z: no training row has site='Z'"):
        plan_balance(balance_cfg(oversample_subgroups={"site": {"Z": 2.0}}), s.train, raw.classes, 7)


def mixup_batches(loader):
    return [tuple(t.clone() for t in b) for b in loader]


def test_mixup_is_seeded_and_mixes_pairs_of_rows_of_the_batch():
    x = torch.randn(200, 4, generator=torch.Generator().manual_seed(1))
    rows = torch.arange(200)  # the label of each row is its index, so a batch names the rows it mixed
    loader = TensorLoader(x, rows, 64, shuffle=True, seed=7, mixup_alpha=0.4)
    first = mixup_batches(loader)
    assert all(len(b) == 4 for b in first)
    assert all(torch.equal(a, b) for ba, bb in zip(first, mixup_batches(loader)) for a, b in zip(ba, bb))
    other = TensorLoader(x, rows, 64, shuffle=True, seed=8, mixup_alpha=0.4)
    assert not torch.equal(first[0][0], mixup_batches(other)[0][0])  # another seed, other batches
    lams = []
    for xm, y, y2, lam in first:
        expected = lam * x[y] + (1 - lam) * x[y2]  # direct computation from the rows the batch names
        torch.testing.assert_close(xm, expected, rtol=1e-6, atol=1e-6)
        assert sorted(y2.tolist()) == sorted(y.tolist()) and not torch.equal(y, y2)  # a permutation of the batch
        lams.append(float(lam))
    assert all(0.5 <= v <= 1 for v in lams) and len(set(lams)) == len(lams)  # dominant first, drawn per batch
    draws = []
    for epoch in range(60):
        loader.set_epoch(epoch)
        draws += [float(b[3]) for b in loader]
    beta = np.random.default_rng(0).beta(0.4, 0.4, 200_000)
    assert np.mean(draws) == pytest.approx(np.maximum(beta, 1 - beta).mean(), abs=0.03)  # Beta(0.4, 0.4), folded


def test_mixup_never_reaches_evaluation_loaders_and_is_off_by_default():
    x, y = torch.randn(100, 3), torch.arange(100) % 3
    for loader in (TensorLoader(x, y, 32), TensorLoader(x, y, 32, pad_shards=False),
                   TensorLoader(x, y, 32, shuffle=True)):
        batches = list(loader)
        assert all(len(b) == 2 for b in batches)
        assert torch.equal(torch.cat([b[0] for b in batches]).sort(dim=0).values, x.sort(dim=0).values)
    with pytest.raises(ValueError, match="mixup_alpha must be >= 0"):
        TensorLoader(x, y, 32, shuffle=True, mixup_alpha=-0.1)


def test_mixup_loss_is_soft_target_cross_entropy_and_weighted_loss_at_lambda_one():
    from torch.nn import functional as F

    from medtorch.models.module import mixup_cross_entropy

    g = torch.Generator().manual_seed(0)
    logits, y, y2 = torch.randn(50, 3, generator=g), torch.randint(3, (50,), generator=g), torch.randint(3, (50,), generator=g)
    lam = torch.tensor(0.7)
    soft = lam * F.one_hot(y, 3) + (1 - lam) * F.one_hot(y2, 3)
    torch.testing.assert_close(mixup_cross_entropy(logits, y, y2, lam), F.cross_entropy(logits, soft.float()))
    w = torch.tensor([0.5, 1.0, 4.0])
    torch.testing.assert_close(mixup_cross_entropy(logits, y, y2, torch.tensor(1.0), w), F.cross_entropy(logits, y, weight=w))
    assert not torch.allclose(mixup_cross_entropy(logits, y, y2, lam, w), mixup_cross_entropy(logits, y, y2, lam))


def test_mixup_is_planned_recorded_and_its_limits_written(splits):
    raw, s = splits
    plan = plan_balance(balance_cfg(mixup_alpha=0.4), s.train, raw.classes, 7)
    assert plan.mixup_alpha == 0.4 and plan.record["mixup_alpha"] == 0.4
    assert "not real patients" in plan.record["mixup_limitations"]
    off = plan_balance(balance_cfg(), s.train, raw.classes, 7)
    assert off.mixup_alpha == 0.0 and off.record["mixup_alpha"] == 0.0 and "mixup_limitations" not in off.record


def test_a_mixup_run_completes_and_records_it(tmp_path):
    from conftest import read_json, run_train

    _, rd = run_train(tmp_path, "balance.mixup_alpha=0.4", "balance.class_weights=balanced", "trainer.max_epochs=2")
    reb = {s["step"]: s for s in read_json(rd / "lineage.json")["steps"]}["rebalance"]
    assert reb["mixup_alpha"] == 0.4 and "fractional" in reb["mixup_limitations"]
    eda = (rd / "eda.md").read_text()
    assert "mixup_alpha = 0.4" in eda and "Mixup: alpha = 0.4. Limitations of mixup:" in eda
    assert "mixup alpha: 0.4" in (rd / "lineage.md").read_text()
    assert read_json(rd / "manifest.json")["status"] == "complete"


@pytest.mark.parametrize("value", ["-0.4", "nan"])
def test_a_bad_mixup_alpha_is_refused_before_anything_runs(tmp_path, value):
    from conftest import run_train

    proc, _ = run_train(tmp_path, f"balance.mixup_alpha={value}", check=False)
    assert proc.returncode == 2, proc.stderr
    assert "balance.mixup_alpha must be 0 (off) or a Beta concentration > 0" in proc.stderr and value in proc.stderr
