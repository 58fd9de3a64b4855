"""``medtorch explain RUN`` on a task=survival run: attributions of the risk score, made after training.

As the training-time explanation (``medtorch.survival.explain``): each method attributes the network's
one output, the log relative hazard, for a seeded sample of the chosen split's rows against baselines
from the training rows only; per original column the mean absolute and the mean signed attribution.
The run is verified first (every recorded hash), its rows are rebuilt from its data and split config
and checked against the recorded data and split hashes, and the result goes to its own directory
``RUN/explanations/NAME/`` (the risk attributions and a bar plot), never over the training-time
one, with one event in the run's log. Options that only mean something for classification
(``--compare``, ``--transparent``, ``--rows``) are refused, as are methods the training-time
explanation does not run on a single output.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medtorch.errors import EXIT_OK, IntegrityError, MedtorchError
from medtorch.run import RunDir, read_json


def risk_attributions(e: dict, network, x: torch.Tensor, x_train: torch.Tensor, prep) -> dict[str, Any]:
    """Per method, the mean |attribution| and mean signed attribution of each column to the risk score of
    the rows ``x`` (``e``: the ``explain`` settings: methods, baseline, baseline_samples, ig_steps, ...)."""
    from medtorch.explain.attributions import attribute, make_baselines
    from medtorch.explain.columns import ColumnMap
    from medtorch.survival.explain import METHODS

    cmap = ColumnMap.from_sources(prep.feature_sources_)
    base = make_baselines(e["baseline"], x_train, len(x), e["baseline_samples"], e["seed"])
    out: dict[str, Any] = {"output": "risk score (log relative hazard)", "rows": int(len(x)), "baseline": e["baseline"],
                           "columns": list(cmap.columns), "methods": {}}
    for method in [m for m in e["methods"] if m in METHODS]:
        r = attribute(network, method, x, 1, base, cmap, ig_steps=e["ig_steps"],
                      gradient_shap_samples=e["gradient_shap_samples"], seed=e["seed"])
        cols = r.columns[0]  # (rows, columns)
        out["methods"][method] = {
            "mean_abs": dict(zip(cmap.columns, np.abs(cols).mean(axis=0).tolist())),
            "mean_signed": dict(zip(cmap.columns, cols.mean(axis=0).tolist())),
            "seconds": round(r.seconds, 3),
            **({"max_abs_convergence_delta": float(np.abs(r.delta).max())} if r.delta is not None else {}),
        }
    return out


def _settings(cfg: dict, args: argparse.Namespace) -> dict[str, Any]:
    from dataclasses import asdict

    from medtorch.config import ExplainConfig
    from medtorch.survival.explain import METHODS

    for flag, value in (("--compare", args.compare), ("--transparent", args.transparent), ("--rows", args.rows)):
        if value:
            raise MedtorchError(f"{flag} is not available for a task=survival run (it compares or picks rows by "
                                "classification results); drop it. The risk-score attributions are computed without it.")
    s = {**asdict(ExplainConfig()), **(cfg.get("explain") or {})}
    if args.method:
        s["methods"] = list(METHODS) if "all" in args.method else list(dict.fromkeys(args.method))
    other = [m for m in s["methods"] if m not in METHODS]
    if args.method and other:
        raise MedtorchError(f"--method {' '.join(other)}: a survival network has one output, the risk score; the methods "
                            f"that attribute it are {', '.join(METHODS)}.")
    s["methods"] = [m for m in s["methods"] if m in METHODS] or list(METHODS)
    for key, value in (("split", args.split), ("baseline", args.baseline), ("max_rows", args.max_rows)):
        if value is not None:
            s[key] = value
    if int(s["max_rows"]) < 1:
        raise MedtorchError(f"--max-rows must be >= 1; got {s['max_rows']}.")
    return s


def _rows(rd: RunDir, cfg: dict, manifest: dict, split: str):
    """The preprocessed rows of ``split`` and of the training split, rebuilt and checked by hash."""
    from omegaconf import OmegaConf

    from medtorch.data.configured_split import split_table
    from medtorch.survival.data import load_survival

    c = OmegaConf.create(cfg)
    raw = load_survival(c.data)
    if raw.source["sha256"] != manifest["data"]["sha256"]:
        raise IntegrityError(f"the data ({raw.source.get('path', raw.source.get('name'))}) changed since run "
                             f"{manifest['run_id']} was trained; its rows cannot be rebuilt. Restore the original file.")
    parts = split_table(c, raw).parts()
    for name in ("train", split):
        if parts[name].ids_sha256 != manifest["splits"][name]:
            raise IntegrityError(f"the {name} rows rebuilt from the run's data and split config hash to "
                                 f"{parts[name].ids_sha256[:16]}... but were recorded as {manifest['splits'][name][:16]}...")
    return parts[split].frame, parts["train"].frame


def explain_survival_run(args: argparse.Namespace) -> int:
    from medtorch.audit import utc_now
    from medtorch.evidence import Run
    from medtorch.integrity import require_intact
    from medtorch.survival.explain import _plot
    from medtorch.survival.predict import load_survival_model

    rd = RunDir(Path(args.run)).require()
    require_intact(rd.root)
    manifest = read_json(rd.manifest)
    network, prep, _, cfg = load_survival_model(rd)
    s = _settings(cfg, args)
    if s["split"] == "test":
        from medtorch.evaluation.test_rows import refuse_test_rows_before_a_look

        refuse_test_rows_before_a_look(rd, "medtorch explain")
    name = args.name or utc_now().replace(":", "-")
    out_dir = rd.new_explanation_dir(name)
    frame, train = _rows(rd, cfg, manifest, s["split"])
    x_all = torch.from_numpy(prep.transform(frame))
    rows = np.sort(np.random.default_rng(s["seed"]).choice(len(x_all), size=min(len(x_all), int(s["max_rows"])),
                                                           replace=False))
    out = risk_attributions(s, network, x_all[rows], torch.from_numpy(prep.transform(train)), prep)
    out.update({"split": s["split"], "name": name, "run_id": manifest["run_id"], "time_utc": utc_now()})
    out_dir.mkdir(parents=True)
    plots = [_plot(out, rd.at("survival_later_explanation_plot", name=name))] if cfg["eda"]["plots"] else []
    Run.open(rd.root).record(rd.at("survival_later_explanation", name=name), out, also=plots, event="explained",
                             details={"task": "survival", "name": name, "split": s["split"],
                                      "methods": list(out["methods"]), "rows": out["rows"]},
                             inputs=[rd.model_weights])
    print(f"explained the risk score of {out['rows']} {s['split']} rows with "
          + ", ".join(f"{m} ({e['seconds']:.2f} s)" for m, e in out["methods"].items()))
    print(f"written to {out_dir}")
    return EXIT_OK
