"""Survival numbers against references: the Cox partial likelihood (lifelines, torchsurv), the Breslow
baseline (lifelines), Kaplan-Meier (lifelines), Harrell's C (lifelines, scikit-survival), Uno's C,
time-dependent AUC and the Brier score (scikit-survival); ties and all-censored cases included."""

import numpy as np
import pandas as pd
import pytest
import torch

from medtorch.survival.baseline import BreslowBaseline
from medtorch.survival.concordance import harrell_c, uno_c
from medtorch.survival.km import censoring_km, kaplan_meier, median_follow_up
from medtorch.survival.loss import cox_log_partial_likelihood, cox_loss
from medtorch.survival import metrics as SM

lifelines = pytest.importorskip("lifelines")
sksurv_metrics = pytest.importorskip("sksurv.metrics")
from sksurv.util import Surv  # noqa: E402


def _data(n=300, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    beta = np.array([0.8, -0.5, 0.3])
    t = rng.exponential(np.exp(-x @ beta)) * 5
    c = rng.exponential(6, size=n)
    time = np.minimum(t, c)
    if ties:
        time = np.ceil(time * 4) / 4  # heavy ties
    event = (t <= c).astype(int)
    return x, time, event


@pytest.mark.parametrize("ties", [True, False])
def test_efron_log_likelihood_equals_lifelines(ties):
    x, time, event = _data(ties=ties)
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(T=time, E=event)
    cph = lifelines.CoxPHFitter().fit(df, "T", "E")
    beta = cph.params_.to_numpy()
    eta = torch.from_numpy(x @ beta)
    ll = cox_log_partial_likelihood(eta, torch.from_numpy(time), torch.from_numpy(event), ties="efron")
    assert ll.dtype == torch.float64
    assert abs(float(ll) - cph.log_likelihood_) < 1e-6


def test_efron_and_breslow_equal_torchsurv():
    from torchsurv.loss.cox import neg_partial_log_likelihood

    x, time, event = _data(n=120, seed=3)
    eta = torch.from_numpy(x @ np.array([0.4, 0.1, -0.7]))
    for ties in ("efron", "breslow"):
        ours = -cox_log_partial_likelihood(eta, torch.from_numpy(time), torch.from_numpy(event), ties)
        ref = neg_partial_log_likelihood(eta, torch.from_numpy(event).bool(), torch.from_numpy(time),
                                         ties_method=ties, reduction="sum")
        assert float(ours) == pytest.approx(float(ref), rel=1e-6), ties  # torchsurv computes Efron in float32


def test_breslow_differs_from_efron_under_ties_and_gradients_flow():
    x, time, event = _data(n=80, seed=4)
    eta = torch.from_numpy(x @ np.array([0.4, 0.1, -0.7])).requires_grad_()
    e = cox_log_partial_likelihood(eta, torch.from_numpy(time), torch.from_numpy(event), "efron")
    b = cox_log_partial_likelihood(eta, torch.from_numpy(time), torch.from_numpy(event), "breslow")
    assert float(e) != pytest.approx(float(b))
    e.backward()
    assert torch.isfinite(eta.grad).all()


def test_batch_without_events_gives_no_loss_not_nan():
    eta = torch.randn(8, requires_grad=True)
    assert cox_loss(eta, torch.arange(8.0), torch.zeros(8)) is None
    big = torch.tensor([1000.0, 999.0, -5.0])  # no overflow for large scores
    for ties in ("efron", "breslow"):
        for times in ([1.0, 2.0, 3.0], [1.0, 1.0, 3.0]):  # without and with tied times
            loss = cox_loss(big.clone().requires_grad_(), torch.tensor(times), torch.tensor([1.0, 1.0, 0.0]), ties)
            assert torch.isfinite(loss), (ties, times)


def test_breslow_baseline_matches_lifelines_survival():
    x, time, event = _data()
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(T=time, E=event)
    cph = lifelines.CoxPHFitter().fit(df, "T", "E")
    eta = x @ cph.params_.to_numpy()
    base = BreslowBaseline.fit(eta, time, event)
    grid = np.array([0.5, 1.0, 2.0, 3.5])
    ref = cph.predict_survival_function(df.iloc[:20], times=grid).to_numpy().T
    np.testing.assert_allclose(base.survival(eta[:20], grid), ref, atol=1e-8)


def test_kaplan_meier_and_censoring_against_references():
    from sksurv.nonparametric import CensoringDistributionEstimator

    _, time, event = _data(seed=5)
    km = kaplan_meier(time, event)
    ref = lifelines.KaplanMeierFitter().fit(time, event)
    grid = np.linspace(0, time.max(), 50)
    np.testing.assert_allclose(km(grid), ref.survival_function_at_times(grid).to_numpy(), atol=1e-12)
    cens = CensoringDistributionEstimator().fit(Surv.from_arrays(event.astype(bool), time))
    np.testing.assert_allclose(censoring_km(time, event)(grid), cens.predict_proba(grid), atol=1e-12)
    rev = lifelines.KaplanMeierFitter().fit(time, 1 - event)
    assert median_follow_up(time, event) == pytest.approx(rev.median_survival_time_)


@pytest.mark.parametrize("seed,ties", [(0, True), (1, False), (2, True)])
def test_harrell_c_equals_lifelines_and_sksurv(seed, ties):
    x, time, event = _data(seed=seed, ties=ties)
    risk = np.round(x[:, 0], 1) if ties else x[:, 0]  # tied scores too
    ours = harrell_c(time, event, risk)
    assert ours == pytest.approx(lifelines.utils.concordance_index(time, -risk, event), abs=1e-12)
    ref = sksurv_metrics.concordance_index_censored(event.astype(bool), time, risk)[0]
    assert ours == pytest.approx(ref, abs=1e-12)


def test_harrell_c_degenerate_cases():
    time, event = np.arange(1.0, 11.0), np.ones(10)
    assert harrell_c(time, event, np.ones(10)) == 0.5  # constant predictor
    assert harrell_c(time, event, -time) == 1.0
    assert np.isnan(harrell_c(time, np.zeros(10), -time))  # all censored: no comparable pair
    with pytest.raises(Exception):
        sksurv_metrics.concordance_index_censored(np.zeros(10, bool), time, -time)  # the reference refuses too


def test_uno_c_equals_sksurv():
    x, time, event = _data(n=400, seed=6)
    tr, te = slice(0, 250), slice(250, 400)
    risk = x[te, 0] - 0.5 * x[te, 1]
    y_tr, y_te = Surv.from_arrays(event[tr].astype(bool), time[tr]), Surv.from_arrays(event[te].astype(bool), time[te])
    g = censoring_km(time[tr], event[tr])
    for tau in (2.0, 4.0):
        ref = sksurv_metrics.concordance_index_ipcw(y_tr, y_te, risk, tau=tau)[0]
        assert uno_c(time[te], event[te], risk, g, tau) == pytest.approx(ref, abs=1e-10)


def test_td_auc_and_brier_equal_sksurv():
    x, time, event = _data(n=400, seed=7)
    tr, te = slice(0, 250), slice(250, 400)
    risk = np.round(x[te, 0] - 0.5 * x[te, 1], 1)
    y_tr, y_te = Surv.from_arrays(event[tr].astype(bool), time[tr]), Surv.from_arrays(event[te].astype(bool), time[te])
    g = censoring_km(time[tr], event[tr])
    horizons = np.array([1.0, 2.0, 3.0])
    ref_auc, _ = sksurv_metrics.cumulative_dynamic_auc(y_tr, y_te, risk, horizons)
    ours = [SM.td_auc(time[te], event[te], risk, h, g) for h in horizons]
    np.testing.assert_allclose(ours, ref_auc, atol=1e-10)
    surv = np.exp(-np.outer(np.exp(risk), horizons) / 3)
    _, ref_bs = sksurv_metrics.brier_score(y_tr, y_te, surv, horizons)
    np.testing.assert_allclose([SM.brier(time[te], event[te], surv[:, k], h, g) for k, h in enumerate(horizons)],
                               ref_bs, atol=1e-12)
    grid = np.linspace(0.5, 3.0, 20)
    sg = np.exp(-np.outer(np.exp(risk), grid) / 3)
    ref_ibs = sksurv_metrics.integrated_brier_score(y_tr, y_te, sg, grid)
    assert SM.integrated_brier(time[te], event[te], sg, grid, g) == pytest.approx(ref_ibs, abs=1e-12)


def test_horizon_confusion_counts_known_status_only():
    time = np.array([1.0, 2.0, 6.0, 7.0, 3.0, 8.0])
    event = np.array([1, 1, 0, 1, 0, 0])
    risk = np.array([0.9, 0.2, 0.1, 0.8, 0.9, 0.3])
    out = SM.horizon_confusion(time, event, risk, horizon=5.0, threshold=0.5)
    # known: rows 0,1 (events by 5), 2,3,5 (followed beyond 5); row 4 censored at 3: unknown
    assert out["n_known"] == 5 and out["unknown"] == 1
    assert out["confusion_matrix"] == [[2, 1], [1, 1]]
    from sklearn.metrics import matthews_corrcoef

    assert out["mcc"] == pytest.approx(matthews_corrcoef([1, 1, 0, 0, 0], [1, 0, 0, 1, 0]))


def test_ipcw_metrics_are_undefined_beyond_the_training_follow_up():
    # training follow-up ends with a censoring at 5: G(t) = 0 from there on, so no IPCW weight exists
    g = censoring_km(np.array([1.0, 2.0, 3.0, 5.0]), np.array([1, 0, 1, 0]))
    time, event, risk = np.array([1.0, 4.0, 6.0, 7.0]), np.array([1, 1, 0, 1]), np.array([0.9, 0.5, 0.1, 0.2])
    assert g(5.0) == 0.0
    assert np.isnan(SM.brier(time, event, np.full(4, 0.5), 5.5, g))
    assert np.isnan(SM.td_auc(np.array([5.5, 7.0]), np.array([1, 0]), np.array([0.9, 0.1]), 6.0, g))
    assert np.isfinite(SM.td_auc(time, event, risk, 4.5, g))


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("tied_times", [True, False])
def test_written_out_gradient_passes_gradcheck(ties, tied_times):
    x, time, event = _data(n=40, seed=8, ties=tied_times)
    eta = torch.from_numpy(x @ np.array([0.4, 0.1, -0.7])).requires_grad_()
    f = lambda z: cox_log_partial_likelihood(z, torch.from_numpy(time), torch.from_numpy(event), ties)  # noqa: E731
    assert torch.autograd.gradcheck(f, (eta,), eps=1e-6, atol=1e-7)


def test_calibration_deciles_observed_risk_is_lifelines_kaplan_meier():
    x, time, event = _data(n=300, seed=9)
    surv = np.exp(-np.exp(x[:, 0]) * 0.3)
    cal = SM.calibration(time, event, surv, 2.0, bins=10)
    order = np.argsort(1 - surv, kind="stable")
    for c, rows in zip(cal, np.array_split(order, 10)):
        km = lifelines.KaplanMeierFitter().fit(time[rows], event[rows])
        assert c["observed"] == pytest.approx(1 - float(km.survival_function_at_times(2.0).iloc[0]), abs=1e-12)
        assert c["predicted"] == pytest.approx(float(np.mean(1 - surv[rows])))
        assert c["n"] == len(rows) and c["events"] == int(event[rows].sum())
