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

TIES = ("efron", "breslow")


def cox_log_partial_likelihood(eta: torch.Tensor, time: torch.Tensor, event: torch.Tensor,
                               ties: str = "efron") -> torch.Tensor:
    """Summed log partial likelihood (a scalar; 0 when there is no event)."""
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}; got {ties!r}")
    eta = eta.reshape(-1)
    event = event.reshape(-1).to(eta.dtype)
    # one sort: unique() orders the times; inverse maps each row to its time group
    uniq, group = torch.unique(time.reshape(-1), sorted=True, return_inverse=True)
    g = len(uniq)
    shift = eta.detach().max()  # exp of shifted scores: no overflow; the shift cancels in the likelihood
    w = torch.exp(eta - shift)
    at_time = torch.zeros(g, dtype=eta.dtype, device=eta.device).index_add_(0, group, w)
    risk = at_time.flip(0).cumsum(0).flip(0)  # sum of exp(eta) over T >= t_j
    d = torch.zeros(g, dtype=eta.dtype, device=eta.device).index_add_(0, group, event)
    has = d > 0
    if not bool(has.any()):
        return eta.sum() * 0.0
    first = (eta * event).sum()
    if ties == "breslow":
        second = (d[has] * (torch.log(risk[has]) + shift)).sum()
        return first - second
    tied = torch.zeros(g, dtype=eta.dtype, device=eta.device).index_add_(0, group, w * event)
    # l = 0 .. d_j - 1 for each event time: expand groups by their event counts
    counts = d[has].long()
    rg = torch.repeat_interleave(torch.arange(int(has.sum()), device=eta.device), counts)
    starts = torch.cumsum(counts, 0) - counts
    ell = torch.arange(len(rg), device=eta.device) - starts[rg]
    frac = ell.to(eta.dtype) / d[has][rg]
    second = (torch.log(risk[has][rg] - frac * tied[has][rg]) + shift).sum()
    return first - second


def cox_loss(eta: torch.Tensor, time: torch.Tensor, event: torch.Tensor, ties: str = "efron") -> torch.Tensor | None:
    """Negative log partial likelihood per event (the training loss), or None for a batch with no event."""
    n_events = event.sum()
    if float(n_events) == 0:
        return None
    return -cox_log_partial_likelihood(eta, time, event, ties) / n_events
