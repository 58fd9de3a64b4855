"""Write an explanation's numbers (JSON, CSV), plots (PNG) and summary (Markdown) into its directory.

The files are written into a hidden directory of the run first and moved into the explanation's
directory once all of them are written, so an explanation that fails (or whose process is killed)
part-way leaves none of its files where evidence lives: there, a file no event records reads as one
added after the fact (medtorch.integrity).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from medtorch.artefacts import artefact
from medtorch.explain import plots
from medtorch.explain.settings import METHODS
from medtorch.explain.summary import summary_markdown
from medtorch.run import write_json, write_text


def _csv(path: Path, frame: pd.DataFrame) -> Path:
    return write_text(path, frame.to_csv(index=False, float_format="%.8g"))


def unfinished(root: Path, out: Path) -> Path:
    """Where the explanation for ``out`` (inside the run directory ``root``) is written before it is moved there:
    a hidden directory at the run's top, outside the locations where evidence lives."""
    return Path(root) / (".unfinished-" + Path(out).relative_to(root).as_posix().replace("/", "-"))


def discard_unfinished(root: Path, out: Path) -> None:
    """Remove what an explanation stopped part-way (a failed run kills it) left in its hidden directory."""
    shutil.rmtree(unfinished(root, out), ignore_errors=True)


def write_outputs(root: Path, out: Path, report: dict[str, Any], results, importance: pd.DataFrame, local: pd.DataFrame,
                  local_rows, probs, y, ids, raw, cmap, attention, comparison: Callable[[], Any]) -> tuple[list[Path], Any]:
    """The files in ``out`` (inside the run directory ``root``), and the comparison with the transparent models
    (``comparison()``, asked for once the plots are written: it may be at work in another process meanwhile; None
    when there is none). Nothing is left in ``out`` or in the hidden directory when anything here fails."""
    stage = unfinished(root, out)
    shutil.rmtree(stage, ignore_errors=True)  # left by an attempt that was killed
    try:
        paths, comparison = _write(stage, report, results, importance, local, local_rows, probs, y, ids, raw, cmap,
                                   attention, comparison)
        return _move(stage, out, paths), comparison
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _move(stage: Path, out: Path, paths: list[Path]) -> list[Path]:
    """The written files moved into ``out``: one rename of the directory, or file by file where ``out`` already
    exists (a run resumed after its explanations were written replaces them, as it did in place)."""
    moved = [out / p.relative_to(stage) for p in paths]
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(stage, out)  # fails when out exists (and is not empty)
    except OSError:
        for src, dst in zip(paths, moved):
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
        shutil.rmtree(stage, ignore_errors=True)
    return moved


def _write(out: Path, report: dict[str, Any], results, importance: pd.DataFrame, local: pd.DataFrame,
           local_rows, probs, y, ids, raw, cmap, attention, comparison: Callable[[], Any]) -> tuple[list[Path], Any]:
    classes, columns, model = report["classes"], cmap.columns, report["model"]
    where = f"{model} model, {report['split']} rows (n={report['rows_explained']})"
    paths: list[Path] = []
    files: dict[str, Any] = {"tables": {}, "plots": {}}

    def table(key: str, name: str, frame: pd.DataFrame) -> None:
        paths.append(_csv(out / name, frame))
        files["tables"][key] = name  # relative to the explanation's directory

    def plot(key: str, path: Path) -> None:
        paths.append(path)
        files["plots"][key] = str(path.relative_to(out))

    def png(name: str) -> Path:
        return out / artefact("explanation_plot").tail(2, name=name)

    table("global_importance", artefact("explanation_importance").name, importance)
    long = [pd.DataFrame({"method": r.method, "row_id": np.repeat(ids, len(columns)), "class": classes[c],
                          "column": np.tile(columns, len(ids)), "attribution": r.columns[c].ravel()})
            for r in results for c in range(len(classes))]
    table("attributions", artefact("explanation_attributions").name, pd.concat(long, ignore_index=True))
    ig = next((r for r in results if r.delta is not None), None)
    if ig is not None:
        table("convergence_delta", artefact("explanation_convergence").name,
              pd.DataFrame({"row_id": np.tile(ids, len(classes)), "class": np.repeat(classes, len(ids)),
                            "delta": ig.delta.ravel()}))
    table("local", artefact("explanation_local").name, local)

    for r in results:
        imp = importance[importance["method"] == r.method]
        mean_abs = np.stack([imp[imp["class"] == c]["mean_abs"].to_numpy() for c in classes])
        std_abs = np.stack([imp[imp["class"] == c]["std_abs"].to_numpy() for c in classes])
        plot(f"global_{r.method}", plots.plot_global(mean_abs, std_abs, columns, classes,
                                                     f"{METHODS[r.method][1]}: global importance per class, {where}",
                                                     png(f"global_{r.method}")))
    primary = results[0]
    for lr in local_rows:
        k = int(probs[lr.index].argmax())
        labels = [f"{c} = {_fmt(raw.iloc[lr.index][c])}" if c in raw.columns else c for c in columns]
        title = (f"Row {lr.row_id} ({', '.join(lr.reasons)}): predicted {classes[k]} (p={probs[lr.index, k]:.3f}), "
                 f"true {classes[int(y[lr.index])]}\n{METHODS[primary.method][1]}, {model} model")
        plot(f"local_row{lr.row_id}", plots.plot_local(primary.columns[k, lr.index], labels, title,
                                                       png(f"local_row{lr.row_id}")))
    agreement = report.get("sanity", {}).get("agreement")
    if agreement:
        names = list(agreement)
        m = np.array([[np.nan if agreement[a][b] is None else agreement[a][b] for b in names] for a in names], dtype=float)
        plot("agreement", plots.plot_agreement(m, [METHODS[n][1] for n in names],
                                               f"Agreement of column rankings between methods\n{where}",
                                               png("agreement")))
    if attention is not None:
        layers, heads = attention.cls_attention.shape[1:3]
        att = pd.DataFrame({"column": columns, "cls_attention_mean": attention.cls_mean.mean(axis=0),
                            "rollout": attention.rollout.mean(axis=0)})
        for l in range(layers):
            for h in range(heads):
                att[f"layer{l + 1}_head{h + 1}"] = attention.cls_attention[:, l, h].mean(axis=0)
        table("attention", artefact("explanation_attention").name, att)
        table("attention_rows", artefact("explanation_attention_rows").name, pd.DataFrame({
            "row_id": np.repeat(ids, len(columns)), "column": np.tile(columns, len(ids)),
            "cls_attention_mean": attention.cls_mean.ravel(), "rollout": attention.rollout.ravel()}))
        report["attention"] = {"top_columns_cls": att.nlargest(5, "cls_attention_mean")["column"].tolist(),
                               "top_columns_rollout": att.nlargest(5, "rollout")["column"].tolist(),
                               "layers": int(layers), "heads": int(heads)}
        plot("attention_global", plots.plot_attention_bars(att["cls_attention_mean"].to_numpy(), att["rollout"].to_numpy(),
                                                           columns, f"Attention, {where}", png("attention_global")))
        plot("attention_layer_head", plots.plot_layer_head(attention.cls_attention.mean(axis=0), columns,
                                                           f"Class-token attention by layer and head, {where}",
                                                           png("attention_layer_head")))
        for lr in local_rows:
            plot(f"attention_row{lr.row_id}", plots.plot_attention_bars(
                attention.cls_mean[lr.index], attention.rollout[lr.index], columns,
                f"Attention for row {lr.row_id} ({', '.join(lr.reasons)}), {model} model",
                png(f"attention_row{lr.row_id}")))
    comparison = comparison()
    if comparison is not None:
        report["comparison"] = comparison.to_dict()
    else:
        report.pop("comparison", None)
    if comparison is not None and comparison.odds_ratios:
        table("odds_ratios", artefact("explanation_odds_ratios").name, pd.DataFrame(comparison.odds_ratios))
    report["files"] = files
    summary, explanation = artefact("explanation_summary").name, artefact("explanation").name
    files["summary"] = summary
    paths.append(write_text(out / summary, summary_markdown(report)))
    paths.append(write_json(out / explanation, report))
    return paths, comparison


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "missing" if np.isnan(v) else f"{v:.4g}"
    return str(v)
