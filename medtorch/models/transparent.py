"""Transparent (glass-box) models fitted on a run's training rows, tuned on its validation rows.

- ``logistic``: multinomial logistic regression fitted to convergence by scikit-learn's
  ``LogisticRegression`` (L-BFGS), one fit per L2 strength C of the grid; the C with the lowest
  validation log-loss is kept (ties: the smaller C, the stronger penalty). Log-loss rather than
  MCC because it is smooth in C and uses the probabilities, not one threshold. It is exported as
  one linear layer (``to_network``), so its probabilities are softmax(W x + b) like any run's.
- ``ebm``: an Explainable Boosting Machine (``interpret-core``), a glass-box additive model of
  per-feature shape functions and pairwise interactions, usually as accurate as gradient
  boosting. Fitted only when asked for (``explain.transparent``): it takes seconds, not
  milliseconds, and the package is an optional extra (``pip install medtorch[ebm]``).
- ``tree``: a shallow decision tree, its depth chosen on the validation Brier score.

All three see exactly the inputs the run's network sees (the run's fitted preprocessing), so a
comparison is between models, not between preprocessings. The validation rows pick C (or the
depth): the validation score of the picked setting is optimistic; the governed test look is the
unbiased figure.
"""

from __future__ import annotations

import copy

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from medtorch.errors import MedtorchError


@dataclass
class TransparentFit:
    """One fitted transparent model; it pickles (the fit can be made in another process, medtorch.background)."""

    name: str
    model: Any  # the fitted scikit-learn / interpret estimator
    k: int  # classes of the run (a class absent from training gets probability 0)
    settings: dict[str, Any]  # what was chosen, from which grid, by which validation score
    coef: np.ndarray | None = None  # logistic: (classes, inputs) as softmax weights
    intercept: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return _full_proba(self.model, x, self.k)


def _log_loss(y: np.ndarray, probs: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y, probs, labels=np.arange(probs.shape[1])))


def _full_proba(model, x: np.ndarray, k: int) -> np.ndarray:
    """Probabilities for all k classes (a class absent from training gets probability 0)."""
    p = model.predict_proba(np.asarray(x, dtype=np.float64))
    out = np.zeros((len(p), k))
    out[:, np.asarray(model.classes_, dtype=np.intp)] = p
    return out


def softmax_weights(coef: np.ndarray, intercept: np.ndarray, classes_seen: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's coefficients as the weights of a k-output softmax layer giving the same probabilities.

    Two classes: scikit-learn keeps one row w (log-odds of class 1); softmax over [-w/2, w/2] is
    the same model, and each class's logit moves with the inputs (attributions of either class
    are not zero). More: the multinomial rows as they are. A class absent from training gets a
    row of zeros and an intercept of -1e4 (probability 0, as scikit-learn would give).
    """
    d = coef.shape[1]
    w, b = np.zeros((k, d)), np.full(k, -1e4)
    if coef.shape[0] == 1:
        w[classes_seen[1]], b[classes_seen[1]] = coef[0] / 2, intercept[0] / 2
        w[classes_seen[0]], b[classes_seen[0]] = -coef[0] / 2, -intercept[0] / 2
    else:
        w[classes_seen], b[classes_seen] = coef, intercept
    return w, b


def _search(x, y, grid: list[float], solver: str, tol: float, max_iter: int):
    """Yield (C, fitted model, converged) along the increasing C grid, each fit warm-started from the previous C's
    optimum: each fit still converges to its own C's optimum at ``tol`` (the problem is strictly convex), in
    2-5 Newton steps instead of 5-7 from zero (measured on 140,000 x 32: 1.2 s against 3.0 s for 15 C)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    m = LogisticRegression(solver=solver, tol=tol, max_iter=max_iter, warm_start=True)
    with threadpool_limits(1):  # see _fit
        for c in grid:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                m.set_params(C=c).fit(x, y)
            converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
            yield c, copy.deepcopy(m), converged


def _fit(x, y, c: float, solver: str, tol: float, max_iter: int):
    """One LogisticRegression fit and whether it converged (no ConvergenceWarning)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from threadpoolctl import threadpool_limits

    # one BLAS thread: these problems are small (inputs x classes parameters), and threads that
    # wait for a busy core made each L-BFGS step ~5x slower on a shared 2-core machine
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1):
        warnings.simplefilter("always", ConvergenceWarning)
        m = LogisticRegression(C=c, solver=solver, tol=tol, max_iter=max_iter).fit(x, y)
    return m, not any(issubclass(w.category, ConvergenceWarning) for w in caught)


def fit_logistic(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, k: int,
                 c_grid: Sequence[float], tol: float = 1e-10, max_iter: int = 10000) -> TransparentFit:
    """The C with the lowest validation log-loss, then the converged L-BFGS fit at that C.

    The search over C only needs each C's validation log-loss: for two classes it uses
    scikit-learn's Newton-Cholesky solver, which reaches the same optimum in ~15 iterations where
    L-BFGS needs hundreds at large C (nearly separable data). The reported model is always the
    L-BFGS fit at ``tol`` (its coefficients are what a reader checks against scikit-learn).
    """
    if len(np.unique(y_train)) < 2:
        raise MedtorchError(f"the transparent logistic regression needs at least two classes in the training rows; "
                            f"got only {np.unique(y_train).tolist()}.")
    # newton-cholesky fits one-vs-rest for more than two classes in older scikit-learn: search those with L-BFGS
    search = "newton-cholesky" if len(np.unique(y_train)) == 2 else "lbfgs"
    scores = []
    for c, m, converged in _search(x_train, y_train, sorted(float(v) for v in c_grid), search, tol, max_iter):
        scores.append({"C": c, "val_log_loss": _log_loss(y_val, _full_proba(m, x_val, k)),
                       "iterations": int(np.max(m.n_iter_)), "converged": converged})
    best = min(range(len(scores)), key=lambda i: (scores[i]["val_log_loss"], scores[i]["C"]))
    m, converged = _fit(x_train, y_train, scores[best]["C"], "lbfgs", tol, max_iter)
    w, b = softmax_weights(m.coef_, m.intercept_, np.asarray(m.classes_, dtype=np.intp), k)
    settings = {"C": scores[best]["C"], "solver": "lbfgs", "tol": tol, "max_iter": max_iter,
                "selected_by": "lowest validation log-loss", "search_solver": search, "converged": converged,
                "iterations": int(np.max(m.n_iter_)), "val_log_loss": _log_loss(y_val, _full_proba(m, x_val, k)),
                "grid": scores}
    return TransparentFit("logistic", m, k, settings, coef=w, intercept=b)


def fit_tree(x_train, y_train, x_val, y_val, k: int, depths: Sequence[int], seed: int) -> TransparentFit:
    from sklearn.tree import DecisionTreeClassifier

    scores, fits = [], []
    for d in sorted(int(v) for v in depths):
        m = DecisionTreeClassifier(max_depth=d, min_samples_leaf=max(5, len(y_train) // 100), random_state=seed)
        m.fit(x_train, y_train)
        # Brier score, not log-loss: a pure leaf gives probability 0 to a class, and one such row would
        # make the log-loss infinite whatever the tree's quality
        brier = float(((_full_proba(m, x_val, k) - np.eye(k)[y_val]) ** 2).sum(axis=1).mean())
        scores.append({"max_depth": d, "val_brier": brier})
        fits.append(m)
    best = min(range(len(fits)), key=lambda i: (scores[i]["val_brier"], scores[i]["max_depth"]))
    m = fits[best]
    return TransparentFit("tree", m, k,
                          {"max_depth": scores[best]["max_depth"], "selected_by": "lowest validation Brier score",
                           "grid": scores, "leaves": int(m.get_n_leaves())})


def fit_ebm(x_train, y_train, k: int, seed: int, feature_names: Sequence[str], options: dict | None = None) -> TransparentFit:
    """interpret's defaults (pairwise interactions included), one process; ``options`` (explain.ebm) override them."""
    try:
        from interpret.glassbox import ExplainableBoostingClassifier
    except ImportError:
        raise MedtorchError("explain.transparent includes 'ebm', but the package interpret-core is not installed; "
                            "install it with: pip install 'medtorch[ebm]' (or remove ebm from explain.transparent).") from None
    names = [str(n).replace(" ", "_") for n in feature_names]
    kwargs = {"random_state": seed, "n_jobs": 1, **(options or {})}
    try:
        m = ExplainableBoostingClassifier(feature_names=names, **kwargs)
    except TypeError as e:
        raise MedtorchError(f"explain.ebm: {e}; the keys must be arguments of interpret's ExplainableBoostingClassifier.") from None
    m.fit(np.asarray(x_train, dtype=np.float64), y_train)
    return TransparentFit("ebm", m, k,
                          {"package": "interpret-core", "terms": len(m.term_names_), "interactions":
                           sum(1 for t in m.term_features_ if len(t) > 1), "options": kwargs})


def fit_transparent(names: Sequence[str], x_train, y_train, x_val, y_val, k: int, *, c_grid, tol, max_iter,
                    tree_depths, seed: int, feature_names: Sequence[str], ebm: dict | None = None) -> list[TransparentFit]:
    x_train, x_val = np.asarray(x_train, dtype=np.float64), np.asarray(x_val, dtype=np.float64)
    y_train, y_val = np.asarray(y_train, dtype=np.intp), np.asarray(y_val, dtype=np.intp)
    out = []
    for name in names:
        if name == "logistic":
            out.append(fit_logistic(x_train, y_train, x_val, y_val, k, c_grid, tol, max_iter))
        elif name == "tree":
            out.append(fit_tree(x_train, y_train, x_val, y_val, k, tree_depths, seed))
        elif name == "ebm":
            out.append(fit_ebm(x_train, y_train, k, seed, feature_names, ebm))
        else:
            raise MedtorchError(f"explain.transparent: unknown model {name!r}; expected logistic, ebm or tree.")
    return out


def to_network(fit: TransparentFit):
    """The logistic fit as medtorch's one-linear-layer network (model=logistic), in float32 like any run."""
    import torch

    from medtorch.models.networks import Logistic

    k, d = fit.coef.shape
    net = Logistic(d, k)
    with torch.no_grad():
        net.linear.weight.copy_(torch.from_numpy(fit.coef))
        net.linear.bias.copy_(torch.from_numpy(fit.intercept))
    return net.eval()
