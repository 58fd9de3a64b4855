"""``medtorch predict`` for a task=survival run: spec-checked risk scores and survival probabilities.

The run's audit trail is verified first (a changed artefact refuses, ``EXIT_INTEGRITY``); every input
row is checked against the run's data specification, and any violation refuses the whole input
(``EXIT_BAD_INPUT``, listing the first violations) with nothing written. Valid input gives, per row, the risk score
(log relative hazard), S(t | x) at each configured horizon from the Breslow baseline fitted on the
training split, and the run id and specification hash. The output is written to a temporary file
and renamed when complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from medtorch.run import RunDir, atomic_path, read_json


def load_survival_model(rd: RunDir) -> tuple[Any, Any, Any, dict]:
    from omegaconf import OmegaConf

    from medtorch.data.transforms import TabularPreprocessor
    from medtorch.models.networks import build_network
    from medtorch.survival.baseline import BreslowBaseline

    spec = read_json(rd.model_spec)
    network = build_network(spec["model"], spec["n_features"], 1)
    network.load_state_dict(torch.load(rd.model_weights, map_location="cpu", weights_only=True))
    network.eval()
    prep = TabularPreprocessor.from_state(read_json(rd.preprocessing))
    baseline = BreslowBaseline(**read_json(rd.survival("baseline_hazard")))
    return network, prep, baseline, OmegaConf.to_container(OmegaConf.load(rd.config), resolve=True)


def checked_input(rd: RunDir, input_path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Verify the run, read the input and check every row against the run's data specification
    (any violation refuses the input, listing the first 20); return the raw and the typed frame."""
    from medtorch.deploy.checks import refuse_nonconforming_file
    from medtorch.deploy.spec import DataSpec
    from medtorch.integrity import require_intact

    require_intact(rd.root)
    manifest = read_json(rd.manifest)
    spec = DataSpec.from_dict(read_json(rd.data_spec), str(rd.data_spec))
    return refuse_nonconforming_file(spec, input_path, f"{input_path} (run {manifest['run_id']})")


def predict_survival_file(run_dir: str | Path, input_path: str | Path, output: str | Path) -> dict[str, Any]:
    from medtorch.audit import EventLog
    from medtorch.deploy.reading import refuse_overwriting_input
    from medtorch.hashing import sha256_file
    from medtorch.models.inference import eval_batch_size, infer
    from medtorch.survival.data import in_duration_unit

    rd = RunDir(Path(run_dir)).require()
    refuse_overwriting_input(input_path, output=output)
    manifest = read_json(rd.manifest)
    frame, typed = checked_input(rd, input_path)
    network, prep, baseline, cfg = load_survival_model(rd)
    input_path, output = Path(input_path), Path(output)
    eta = infer(network, typed, eval_batch_size(cfg), preprocessor=prep, output="risk")
    ev, d = cfg["evaluation"], cfg["data"]
    hd = [in_duration_unit(h, ev["horizon_unit"], d["duration_unit"]) for h in ev["horizons"]]
    surv = baseline.survival(eta, hd)
    out = pd.DataFrame({"row": np.arange(1, len(eta) + 1)})
    if d.get("id_column") and d["id_column"] in frame.columns:
        out[d["id_column"]] = frame[d["id_column"]].to_numpy()
    out["risk_score"] = eta
    for k, h in enumerate(ev["horizons"]):
        out[f"survival_at_{h:g}{ev['horizon_unit'][0]}"] = surv[:, k]
    out["run_id"] = manifest["run_id"]
    out["spec_sha256"] = sha256_file(rd.data_spec)
    with atomic_path(output) as tmp:
        out.to_csv(tmp, index=False, float_format="%.8g")
    summary = {"run_id": manifest["run_id"], "input": str(input_path.resolve()), "output": str(output.resolve()),
               "rows": int(len(out)), "horizons": list(ev["horizons"]), "horizon_unit": ev["horizon_unit"]}
    EventLog(rd.events).append("predicted", summary, inputs={summary["input"]: sha256_file(input_path)},
                               outputs={summary["output"]: sha256_file(output)})
    return summary
