"""Bridge re-evaluation of a task=survival model on another software/hardware stack.

At training, the validation rows (raw, as read) and their risk scores on the training stack are
stored (``rd.survival("bridge_rows")``, ``rd.survival("bridge_reference")``, with the follow-up times
and events of those rows and the stack fingerprint). ``medtorch bridge RUN`` on any stack verifies the
run, recomputes the risk scores of the same rows through the stored preprocessing and weights, and
compares: the largest and mean absolute risk-score difference, the rank agreement (Kendall's tau
between the two score vectors, scipy.stats.kendalltau), and the change of Harrell's C on those rows.
It passes when the differences are within ``survival.bridge_max_abs_risk_diff``, tau is at least
``survival.bridge_min_kendall_tau`` and the C-index moves by at most ``survival.bridge_max_cindex_delta``;
otherwise it exits with EXIT_BRIDGE_FAILED.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from medtorch.errors import EXIT_BRIDGE_FAILED, EXIT_OK
from medtorch.evidence import Run
from medtorch.run import RunDir, read_json
from medtorch.survival.concordance import harrell_c


def _paths(rd: RunDir) -> tuple[Path, Path]:
    return rd.survival("bridge_reference"), rd.survival("bridge_rows")


def store_reference(cfg, splits, eta_val: np.ndarray, run: Run) -> None:
    from medtorch.stack import fingerprint
    from medtorch.survival.data import DURATION

    rd = run.rd
    ref_path, rows_path = _paths(rd)
    stack = fingerprint.collect(trainer_precision=str(cfg.trainer.precision))
    reference = {"split": "val", "rows": int(len(eta_val)), "risk_score": np.asarray(eta_val).tolist(),
                 "time": splits.val.extra[DURATION].to_numpy(float).tolist(), "event": splits.val.y.tolist(),
                 "cindex": harrell_c(splits.val.extra[DURATION].to_numpy(float), splits.val.y, eta_val), "stack": stack}
    run.record_many({ref_path: reference, rows_path: splits.val.frame.to_csv(index=False, float_format="%.17g")},
                    event="bridge_reference_stored", inputs=[rd.model_weights, rd.preprocessing],
                    details={"task": "survival", "rows": int(len(eta_val)), "stack_hash": stack["hash"]})


def bridge_survival(run_dir: str | Path, dtype: str = "float32", device: str = "cpu",
                    threads: int | None = None) -> tuple[dict[str, Any], int]:
    """Re-evaluate on this stack: ``dtype``, ``device`` and ``threads`` are inference settings (part of the stack)."""
    from scipy.stats import kendalltau

    from medtorch.integrity import require_intact
    from medtorch.stack import fingerprint
    from medtorch.survival.predict import load_survival_model

    rd = RunDir(Path(run_dir)).require()
    require_intact(rd.root)
    ref_path, rows_path = _paths(rd)
    ref = read_json(ref_path)  # require_intact verified every recorded file of the run just now
    network, prep, _, cfg = load_survival_model(rd)
    frame = pd.read_csv(rows_path, dtype={c: "string" for c in prep.categorical_})  # category levels as text
    if device == "cuda" and not torch.cuda.is_available():
        from medtorch.errors import MedtorchError

        raise MedtorchError("--device cuda: no CUDA device is available on this machine.")
    if threads:
        torch.set_num_threads(threads)
    kind = torch.float64 if dtype == "float64" else torch.float32
    network = network.to(device=device, dtype=kind).eval()
    from medtorch.models.inference import eval_batch_size, infer

    new = infer(network, frame, eval_batch_size(cfg), preprocessor=prep, output="risk")  # as predict runs it
    old = np.asarray(ref["risk_score"], float)
    diff = np.abs(new - old)
    tau = float(kendalltau(old, new).statistic) if len(old) > 1 else 1.0
    c_new = harrell_c(np.asarray(ref["time"]), np.asarray(ref["event"]), new)
    s = cfg["survival"]
    checks = {"max_abs_risk_diff": [float(diff.max()), s["bridge_max_abs_risk_diff"], float(diff.max()) <= s["bridge_max_abs_risk_diff"]],
              "kendall_tau": [tau, s["bridge_min_kendall_tau"], tau >= s["bridge_min_kendall_tau"]],
              "cindex_delta": [abs(c_new - ref["cindex"]), s["bridge_max_cindex_delta"],
                               abs(c_new - ref["cindex"]) <= s["bridge_max_cindex_delta"]]}
    stack = fingerprint.collect(inference_dtype=dtype, inference_device=device)
    report = {"rows": int(len(new)), "mean_abs_risk_diff": float(diff.mean()),
              "cindex_reference": ref["cindex"], "cindex_here": c_new,
              "checks": {k: {"observed": v[0], "tolerance": v[1], "passed": bool(v[2])} for k, v in checks.items()},
              "passed": all(v[2] for v in checks.values()), "reference_stack": ref["stack"]["hash"],
              "this_stack": stack["hash"]}
    out = rd.at("survival_bridge_report", stack=stack["hash"][:16])
    Run.open(rd.root).record(out, report, event="bridge_evaluated", inputs=[ref_path, rows_path],
                             details={"task": "survival", "passed": report["passed"], "stack_hash": stack["hash"]})
    return report, EXIT_OK if report["passed"] else EXIT_BRIDGE_FAILED
