"""Lineage: every step from the raw source to the tensors, in order, and its replay.

``build_lineage`` gathers what the pipeline did (source and its hash, rows dropped and why, the
split with a hash of each split's row identities, every fitted transform with the split it was
fitted on, the features in model order, rebalancing and augmentation) into the lineage record;
``lineage_markdown`` renders the same for a reader. ``replay_split`` loads the source again
with the run's recorded config, splits it again and compares the row-identity hashes: the
same file and config must give the same split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medtorch.artefacts import artefact
from medtorch.errors import IntegrityError, MedtorchError

VERSION = 1


def build_lineage(data_cfg: Any, raw_source: dict, dropped: list, split_record: dict, prep_state: dict,
                  balance: dict, leakage_status: str | None) -> dict[str, Any]:
    roles = {"target": data_cfg.target, "id_column": data_cfg.id_column, "subject_column": data_cfg.subject_column,
             "time_column": data_cfg.time_column, "subgroup_columns": list(data_cfg.subgroup_columns),
             "dropped_columns": list(data_cfg.drop), "integer_coded_categories": list(data_cfg.categorical)}
    steps = [
        {"step": "source", **raw_source},
        {"step": "clean", "column_roles": roles, "row_filters": dropped,
         "rows_after": sum(p["rows"] for name, p in split_record["parts"].items()
                           if not (name == "test" and split_record.get("strategy") == "external"))},
        {"step": "split", **split_record},
        {"step": "leakage_checks", "status": leakage_status},
        {"step": "fit_preprocessing", "fitted_on": prep_state["fitted_on"], "numeric": prep_state["numeric"],
         "categorical": prep_state["categorical"]},
        {"step": "features", "order": prep_state["features"], "count": len(prep_state["features"])},
        {"step": "rebalance", **balance},
    ]
    return {"version": VERSION, "steps": steps}


def lineage_markdown(lineage: dict[str, Any]) -> str:
    s = {step["step"]: step for step in lineage["steps"]}
    src, clean, split = s["source"], s["clean"], s["split"]
    where = src.get("path") or src.get("name")
    out = ["# Data lineage", "", "## 1. Source", "",
           f"- {src['kind']}: `{where}`", f"- sha256 `{src['sha256']}`",
           f"- {src['rows']} rows, {src['columns']} columns", "", "## 2. Cleaning", ""]
    roles = clean["column_roles"]
    out += [f"- {k.replace('_', ' ')}: {v}" for k, v in roles.items() if v not in (None, [])]
    out += [f"- dropped {f['rows']} row(s): {f['reason']}" for f in clean["row_filters"]] or ["- no rows dropped"]
    out += ["", "## 3. Split", "", f"- strategy **{split['strategy']}**, seed {split['seed']}, fractions "
            + ", ".join(f"{k} {v}" for k, v in split["fractions"].items())]
    for key in ("train_end", "val_end"):
        if split.get(key):
            out.append(f"- {key}: {split[key]}")
    if split.get("excluded_seen_subject_rows"):
        out.append(f"- rows of subjects already seen in an earlier split, dropped: {split['excluded_seen_subject_rows']}")
    if split.get("test_source"):
        out.append(f"- test split from external file `{split['test_source'].get('path')}` "
                   f"(sha256 `{split['test_source']['sha256'][:16]}…`)")
    out += ["", "| split | rows | subjects | time range | class counts | row-id hash |", "|---|---|---|---|---|---|"]
    for name, p in split["parts"].items():
        tr = " – ".join(t[:10] for t in p["time_range"]) if p.get("time_range") else ""
        counts = ", ".join(f"{c}: {n}" for c, n in p["class_counts"].items())
        out.append(f"| {name} | {p['rows']} | {p.get('subjects', '')} | {tr} | {counts} | `{p['ids_sha256'][:16]}…` |")
    out += ["", f"## 4. Leakage checks: {s['leakage_checks']['status']}", "", f"See `{artefact('leakage').name}`.", "",
            "## 5. Fitted preprocessing", ""]
    fp = s["fit_preprocessing"]
    out.append(f"Fitted on the {fp['fitted_on']['split']} split only ({fp['fitted_on']['rows']} rows).")
    out += ["", "| column | imputation | mean | scale |", "|---|---|---|---|"]
    out += [f"| {d['column']} | median {d['median']:.6g} | {d['mean']:.6g} | {d['scale']:.6g} |" for d in fp["numeric"]]
    if fp["categorical"]:
        out += ["", "| column | imputation | levels | unseen level |", "|---|---|---|---|"]
        out += [f"| {d['column']} | most frequent ({d['mode']}) | {', '.join(map(str, d['levels'][:12]))}"
                f"{' …' if len(d['levels']) > 12 else ''} | {d['unseen']} |" for d in fp["categorical"]]
    feats = s["features"]
    out += ["", f"## 6. Features ({feats['count']}, in model order)", "", ", ".join(f"`{f}`" for f in feats["order"]),
            "", "## 7. Rebalancing and augmentation", ""]
    out += [f"- {k.replace('_', ' ')}: {v}" for k, v in s["rebalance"].items() if k != "step"]
    return "\n".join(out) + "\n"


def replay_split(run_dir: str | Path, data_path: str | None = None) -> dict[str, Any]:
    """Load the source again, split it again with the run's config; compare with the recorded lineage.

    ``data_path``: a file in place of the recorded source (one that moved); it must have the recorded sha256.
    Raises ``IntegrityError`` when the source hash (of ``data_path`` too) or any split hash differs.
    """
    from omegaconf import OmegaConf

    from medtorch.config.schema import register_configs
    from medtorch.data.configured_split import load_and_split
    from medtorch.evidence import Run
    from medtorch.hashing import sha256_file
    from medtorch.run import RunDir

    rd = RunDir(Path(run_dir))
    if not rd.lineage.is_file():
        raise MedtorchError(f"{rd.lineage}: not found; this run has no lineage to replay.")
    run = Run.open(rd.root)  # the lineage and the config as the run recorded them (a changed one: IntegrityError)
    lineage = run.read_json(rd.lineage)
    steps = {s["step"]: s for s in lineage["steps"]}
    register_configs()
    cfg = OmegaConf.create(run.read_bytes(rd.config).decode("utf-8"))
    recorded_source = steps["source"]["sha256"]
    if data_path is not None:  # in place of the recorded source, so it must be that source, byte for byte
        given = sha256_file(data_path)
        if given != recorded_source:
            where = steps["source"].get("path") or steps["source"].get("name")
            raise IntegrityError(f"replaying the lineage of {rd.root} does not reproduce: the data file {data_path} is "
                                 f"not the run's source (sha256 {given[:16]}..., recorded {recorded_source[:16]}... for "
                                 f"{where}). Give the file the run was trained on.")
        cfg.data.path = str(data_path)
    raw, splits = load_and_split(cfg)
    replayed = splits.record(raw.classes)
    result = {"source": {"recorded": recorded_source, "replayed": raw.source["sha256"]}, "parts": {}}
    for name, part in steps["split"]["parts"].items():
        result["parts"][name] = {"recorded": part["ids_sha256"], "replayed": replayed["parts"][name]["ids_sha256"]}
    mismatched = [k for k, v in [("source", result["source"]), *result["parts"].items()] if v["recorded"] != v["replayed"]]
    result["match"] = not mismatched
    if mismatched:
        raise IntegrityError(f"replaying the lineage of {rd.root} does not reproduce: {', '.join(mismatched)} differ "
                             f"({result}). The data file or the code changed since the run.")
    return result
