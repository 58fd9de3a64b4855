"""Every metric against scikit-learn, on random and degenerate inputs, binary and multi-class."""

import warnings

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from medtorch.evaluation import metrics as M
from medtorch.evaluation.epoch import EpochEvidence


def _probs(rng, n, k):
    p = rng.random((n, k))
    return p / p.sum(axis=1, keepdims=True)


def _check_against_sklearn(y, probs, k):
    pred = probs.argmax(axis=1)
    out = M.classification_metrics(y, probs, [f"c{j}" for j in range(k)])
    labels = list(range(k))
    assert out["confusion_matrix"] == skm.confusion_matrix(y, pred, labels=labels).tolist()
    assert out["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred), abs=1e-12)
    assert out["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    with warnings.catch_warnings():  # sklearn warns when a predicted class is absent from y
        warnings.simplefilter("ignore")
        bal = skm.balanced_accuracy_score(y, pred)
    assert out["balanced_accuracy"] == pytest.approx(bal, abs=1e-12)
    kw = dict(labels=labels, average=None, zero_division=np.nan)
    sens = skm.recall_score(y, pred, **kw)
    prec = skm.precision_score(y, pred, **kw)
    f1 = skm.f1_score(y, pred, **kw)
    for j in range(k):
        pc = out["per_class"][f"c{j}"]
        yb, pb = (y == j).astype(int), (pred == j).astype(int)
        spec = skm.recall_score(1 - yb, 1 - pb, zero_division=np.nan)  # specificity = recall of "not j"
        npv = skm.precision_score(1 - yb, 1 - pb, zero_division=np.nan)
        for name, ref in (("sensitivity", sens[j]), ("precision", prec[j]), ("f1", f1[j]),
                          ("specificity", spec), ("npv", npv)):
            _same(pc[name], ref, f"{name} of class {j}")
        assert pc["support"] == int((y == j).sum())
        if 0 < yb.sum() < len(yb):
            assert pc["auroc"] == pytest.approx(skm.roc_auc_score(yb, probs[:, j]), abs=1e-12)
        else:
            assert np.isnan(pc["auroc"])
    if k == 2 and 0 < y.sum() < len(y):
        assert out["auroc"] == pytest.approx(skm.roc_auc_score(y, probs[:, 1]), abs=1e-12)
    elif k > 2 and len(np.unique(y)) == k:
        assert out["auroc"] == pytest.approx(skm.roc_auc_score(y, probs, multi_class="ovr", average="macro"), abs=1e-12)
    return out


def _same(ours, ref, what):
    if np.isnan(ref):
        assert np.isnan(ours), f"{what}: expected undefined (NaN), got {ours}"
    else:
        assert ours == pytest.approx(ref, abs=1e-12), what


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_predictions_match_sklearn(k, seed):
    rng = np.random.default_rng(seed)
    n = 300
    y = rng.integers(0, k, n)
    probs = _probs(rng, n, k)
    probs[np.arange(n), y] += rng.random(n) * 0.5  # some skill, so metrics are not all near 0
    _check_against_sklearn(y, probs / probs.sum(1, keepdims=True), k)


def test_constant_predictor_has_mcc_zero_on_imbalanced_data():
    # 90/10 data, always predicting the majority class: MCC 0 as in scikit-learn
    y = np.array([0] * 90 + [1] * 10)
    probs = np.tile([0.8, 0.2], (100, 1))
    out = _check_against_sklearn(y, probs, 2)
    assert out["mcc"] == 0.0
    assert np.isnan(out["per_class"]["c1"]["precision"])  # class 1 never predicted: undefined
    assert out["per_class"]["c1"]["sensitivity"] == 0.0
    assert out["balanced_accuracy"] == 0.5


def test_constant_predictor_multiclass_and_all_ties_auroc():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 200)
    probs = np.full((200, 4), 0.25)  # all scores tie: argmax is class 0, AUROC 0.5 everywhere
    out = _check_against_sklearn(y, probs, 4)
    assert out["mcc"] == 0.0
    assert out["auroc"] == pytest.approx(0.5)


@pytest.mark.parametrize("k", [2, 3])
def test_class_absent_from_split(k):
    rng = np.random.default_rng(7)
    y = rng.integers(0, k - 1, 120)  # the last class never occurs
    probs = _probs(rng, 120, k)
    out = _check_against_sklearn(y, probs, k)
    absent = out["per_class"][f"c{k - 1}"]
    assert absent["support"] == 0
    assert np.isnan(absent["sensitivity"]) and np.isnan(absent["auroc"])


def test_perfect_and_inverted_predictions():
    y = np.array([0, 0, 1, 1, 2, 2])
    perfect = np.eye(3)[y]
    assert M.classification_metrics(y, perfect, ["a", "b", "c"])["mcc"] == pytest.approx(1.0)
    y2 = np.array([0, 0, 1, 1])
    inverted = np.eye(2)[1 - y2]
    out = _check_against_sklearn(y2, inverted, 2)
    assert out["mcc"] == pytest.approx(-1.0)


@pytest.mark.parametrize("k", [2, 4])
def test_epoch_accumulation_equals_whole_split(k):
    """The torchmetrics shell, updated batch by batch, gives the whole-split numbers (not batch averages)."""
    rng = np.random.default_rng(11)
    n = 1000
    y = torch.from_numpy(rng.integers(0, k, n))
    logits = torch.from_numpy(rng.normal(size=(n, k))).float()
    ev = EpochEvidence([f"c{j}" for j in range(k)], with_scores=True)
    for i in range(0, n, 97):  # uneven batches
        ev.update(logits[i : i + 97], y[i : i + 97], torch.tensor(1.0))
    got = ev.compute()
    pred = logits.argmax(1).numpy()
    assert got["mcc"] == pytest.approx(skm.matthews_corrcoef(y.numpy(), pred), abs=1e-12)
    assert (got["confusion_matrix"] == skm.confusion_matrix(y.numpy(), pred, labels=list(range(k)))).all()
    probs = torch.softmax(logits, 1).numpy()
    ref_auc = (skm.roc_auc_score(y.numpy(), probs[:, 1]) if k == 2
               else skm.roc_auc_score(y.numpy(), probs, multi_class="ovr", average="macro"))
    assert got["auroc"] == pytest.approx(ref_auc, abs=1e-6)
    ev.reset()
    assert int(ev.confmat.sum()) == 0
