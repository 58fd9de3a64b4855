"""The Cox partial likelihood (DeepSurv's loss), with Efron's or Breslow's handling of tied times.

Written here rather than taken from torchsurv so that it runs in one sort per batch with no
Python loop over tied groups, in any dtype; ``tests/test_survival_loss.py`` checks it against
torchsurv and against lifelines' Cox model (float64, Efron ties, to 1e-6).

For the distinct event times t_j with d_j events, risk set R_j = {i: T_i >= t_j} and tie set
D_j = {events at t_j}, the log partial likelihood of risk scores eta is

    Breslow:  sum_j [ sum_{i in D_j} eta_i - d_j log sum_{i in R_j} exp(eta_i) ]
    Efron:    sum_j [ sum_{i in D_j} eta_i - sum_{l=0}^{d_j-1} log( sum_{R_j} exp(eta) - l/d_j sum_{D_j} exp(eta) ) ]

A batch with no event has no partial likelihood: ``cox_loss`` returns None for it and the module
skips the optimizer step and counts the batch (never a NaN).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

TIES = ("efron", "breslow")


def cox_log_partial_likelihood(eta: torch.Tensor, time: torch.Tensor, event: torch.Tensor,
                               ties: str = "efron") -> torch.Tensor:
    """Summed log partial likelihood (a scalar; 0 when there is no event), differentiable in ``eta``.

    One sort by time (descending): the risk set of a row is a prefix, so its sum of exp(eta) is a
    cumulative sum read at the last row of its tie group (tie groups found by a running max/min over
    the run boundaries of the sorted times, no search and no host sync); the tie groups' event counts d_j, sums
    over tied events and each event's rank l within its group are differences of cumulative sums.
    The gradient is written out (``_CoxPartialLikelihood.backward``) rather than left to autograd:
    a dozen tensor ops instead of a graph of thirty, which keeps a small batch's step cheap
    (``scripts/bench_survival_epoch.py``); ``tests/test_survival_numbers.py`` checks it with gradcheck.
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}; got {ties!r}")
    return _CoxPartialLikelihood.apply(eta.reshape(-1), time.reshape(-1), event.reshape(-1), ties == "efron")


class _CoxPartialLikelihood(torch.autograd.Function):
    @staticmethod
    def forward(ctx, eta, time, event, efron):
        t, order = torch.sort(time, descending=True)
        x = eta[order]
        e = event[order].to(x.dtype)
        n = len(t)
        idx = torch.arange(n, device=t.device)
        # tie groups are runs of equal times in the sorted order: a row's first and last row of its run come
        # from a running max / min of the run boundaries (linear, no searchsorted, no host sync)
        starts = F.pad(t[1:] != t[:-1], (1, 0), value=True)
        ends = F.pad(t[1:] != t[:-1], (0, 1), value=True)
        first = torch.cummax(torch.where(starts, idx, 0), 0).values
        last = torch.cummin(torch.where(ends, idx, n).flip(0), 0).values.flip(0)
        shift = x.max()  # exp of shifted scores: no overflow; the shift cancels in the likelihood
        w = torch.exp(x - shift)
        risk = torch.cumsum(w, 0)[last]  # sum of exp(eta) over T >= T_i
        if efron:  # computed without asking whether there are ties (a host sync): without ties frac is 0
            ce = F.pad(torch.cumsum(e, 0), (1, 0))
            tied = F.pad(torch.cumsum(w * e, 0), (1, 0))
            tied = tied[last + 1] - tied[first]  # sum of exp(eta) over the events tied with this row
            frac = (ce[:-1] - ce[first]) / (ce[last + 1] - ce[first]).clamp(min=1.0)  # l / d_j of each event
        else:
            tied, frac = torch.zeros_like(w), torch.zeros_like(w)
        # censored rows contribute nothing; their inner value is 1 so that an exp(eta) that underflows
        # to 0 cannot put log(0) * 0 = NaN into the sum
        inner = torch.where(e > 0, risk - frac * tied, torch.ones_like(risk))
        ll = (e * (x - torch.log(inner) - shift)).sum()
        ctx.save_for_backward(order, first, last, e, w, inner, frac)
        return ll

    @staticmethod
    def backward(ctx, grad_out):
        # d ll / d x_k = e_k - w_k * sum_{event terms i with T_i <= T_k} 1 / inner_i
        #                    + e_k * w_k * sum_{events i tied with k} (l_i / d_i) / inner_i
        order, first, last, e, w, inner, frac = ctx.saved_tensors
        a = e / inner
        upto = torch.flip(torch.cumsum(torch.flip(a, (0,)), 0), (0,))  # sum over rows at or after this one
        s = upto[first]  # every event term whose time is at or below this row's time
        b = F.pad(torch.cumsum(a * frac, 0), (1, 0))
        b = b[last + 1] - b[first]
        g = e - w * s + e * w * b
        grad = torch.empty_like(g)
        grad[order] = g
        return grad * grad_out, None, None, None


def cox_loss(eta: torch.Tensor, time: torch.Tensor, event: torch.Tensor, ties: str = "efron") -> torch.Tensor | None:
    """Negative log partial likelihood per event (the training loss), or None for a batch with no event."""
    n_events = event.sum()
    if float(n_events) == 0:
        return None
    return -cox_log_partial_likelihood(eta, time, event, ties) / n_events
