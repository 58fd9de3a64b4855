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
    """Summed log partial likelihood (a scalar; 0 when there is no event).

    One sort by time (descending): the risk set of a row is a prefix, so its sum of exp(eta) is a
    cumulative sum read at the last row of its tie group; the tie groups' event counts d_j, sums
    over tied events and each event's rank l within its group are differences of cumulative sums.
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}; got {ties!r}")
    order = torch.argsort(time.reshape(-1), descending=True)
    t = time.reshape(-1)[order]
    x = eta.reshape(-1)[order]
    e = event.reshape(-1)[order].to(x.dtype)
    n = len(t)
    asc = t.flip(0)  # ascending, for searchsorted
    last = n - 1 - torch.searchsorted(asc, t, right=False)  # last row (descending order) of the tie group
    first = n - torch.searchsorted(asc, t, right=True)  # first row of the tie group
    shift = x.detach().max()  # exp of shifted scores: no overflow; the shift cancels in the likelihood
    w = torch.exp(x - shift)
    risk = torch.cumsum(w, 0)[last]  # sum of exp(eta) over T >= T_i
    if ties == "breslow":
        return (e * (x - torch.log(risk) - shift)).sum()
    zero = x.new_zeros(1)
    ce = torch.cat([zero, torch.cumsum(e, 0)])
    cwe = torch.cat([zero, torch.cumsum(w * e, 0)])
    d = ce[last + 1] - ce[first]  # events tied with this row
    tied = cwe[last + 1] - cwe[first]  # their sum of exp(eta)
    ell = ce[:-1] - ce[first]  # events of the group before this row: 0 .. d - 1 over the group's events
    # censored rows contribute nothing; their inner value is replaced by 1 so that an exp(eta) that
    # underflows to 0 cannot put log(0) * 0 = NaN into the sum or its gradient
    inner = torch.where(e > 0, risk - ell / d.clamp(min=1.0) * tied, torch.ones_like(risk))
    return (e * (x - torch.log(inner) - shift)).sum()


def cox_loss(eta: torch.Tensor, time: torch.Tensor, event: torch.Tensor, ties: str = "efron") -> torch.Tensor | None:
    """Negative log partial likelihood per event (the training loss), or None for a batch with no event."""
    n_events = event.sum()
    if float(n_events) == 0:
        return None
    return -cox_log_partial_likelihood(eta, time, event, ties) / n_events
