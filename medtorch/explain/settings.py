"""Names of the attribution methods and baselines, and the checks of the ``explain`` config.

Kept free of heavy imports: ``config.validate`` and ``medtorch explain --help`` read it.
"""

from __future__ import annotations

from typing import Any, Mapping

# name in the config -> (Captum class, short label for plots and tables)
METHODS: dict[str, tuple[str, str]] = {
    "integrated_gradients": ("IntegratedGradients", "Integrated Gradients"),
    "gradient_shap": ("GradientShap", "GradientShap"),
    "kernel_shap": ("KernelShap", "KernelShap"),
    "lime": ("Lime", "Lime"),
    "feature_ablation": ("FeatureAblation", "Feature Ablation"),
    "feature_permutation": ("FeaturePermutation", "Feature Permutation"),
}
# perturbation methods act on whole columns (one-hot parts together, through a feature mask),
# so each part of a column carries the column's attribution; gradient methods attribute each
# input, and a column's attribution is the sum of its parts
GROUPED = {"kernel_shap", "lime", "feature_ablation", "feature_permutation"}
BASELINES = ("train_mean", "train_sample", "zeros")
SPLITS = ("val", "test")
TRANSPARENT = ("logistic", "ebm", "tree")  # glass-box models fitted in the run for the comparison


def explain_problems(e: Mapping[str, Any]) -> list[str]:
    """Every problem with an ``explain`` config, as 'key must be expected; got value' lines."""
    problems: list[str] = []

    def need(ok: bool, key: str, expected: str, got: Any) -> None:
        if not ok:
            problems.append(f"explain.{key} must be {expected}; got {got!r}")

    methods = list(e["methods"])
    unknown = [m for m in methods if m not in METHODS]
    need(not unknown, "methods", f"a list drawn from {tuple(METHODS)}", unknown or methods)
    need(len(set(methods)) == len(methods), "methods", "a list without repeats", methods)
    if e["enabled"]:
        need(len(methods) >= 1, "methods", "at least one method when explain.enabled is true", methods)
    need(e["split"] in SPLITS, "split", f"one of {SPLITS}", e["split"])
    need(e["baseline"] in BASELINES, "baseline", f"one of {BASELINES}", e["baseline"])
    for key in ("max_rows", "baseline_samples", "ig_steps", "gradient_shap_samples", "perturbation_samples", "bootstrap"):
        need(int(e[key]) >= 1, key, ">= 1", e[key])
    need(int(e["ig_steps"]) >= 2, "ig_steps", ">= 2", e["ig_steps"])
    need(int(e["local_rows"]) >= 0, "local_rows", ">= 0", e["local_rows"])
    need(0.5 <= float(e["confidence"]) < 1.0, "confidence", "in [0.5, 1)", e["confidence"])
    need(int(e["seed"]) >= 0, "seed", ">= 0", e["seed"])
    transparent = list(e.get("transparent") or [])
    need(all(t in TRANSPARENT for t in transparent) and len(set(transparent)) == len(transparent), "transparent",
         f"a list without repeats drawn from {TRANSPARENT}", transparent)
    depths = list(e.get("tree_depths") or [1])
    need(len(depths) >= 1 and all(int(d) >= 1 for d in depths), "tree_depths", "a non-empty list of depths >= 1", depths)
    if e.get("compare_with") is not None:
        from pathlib import Path

        # MCC on the test rows is the governed look at the test set, not a by-product of explaining
        need(e["split"] == "val", "split", "'val' when explain.compare_with is set (the comparison computes MCC)",
             e["split"])

        need(Path(str(e["compare_with"])).is_dir(), "compare_with",
             "the run directory of a finished logistic-regression run (explain.compare_with=RUN_DIR)", e["compare_with"])
    return problems
