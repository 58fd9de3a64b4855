"""The assessment steps a training run takes (called by name from ``medtorch.pipeline``).

- ``freeze_acceptance``: before anything is trained, the acceptance criteria are frozen
  (acceptance.json: content + hash; the hash goes to the event log) and the run's development
  fingerprint (config, code, data hashes) is recorded in the manifest.
- ``seal_test``: the test split's row ids and row hash are written to sealed_test.json.
- ``assess_validation``: bootstrap CIs, sensitivity analyses and calibration of the
  validation predictions (assessment_val.json and plots).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medtorch.audit import EventLog, file_hashes, utc_now
from medtorch.config import to_container
from medtorch.evaluation.acceptance import frozen_record
from medtorch.evaluation.assessment import assess, summary_lines, write_plots
from medtorch.evaluation.development import development_fingerprint
from medtorch.evaluation.test_rows import seal_record
from medtorch.run import RunDir, write_json


def freeze_acceptance(cfg, rd: RunDir, log: EventLog, manifest: dict[str, Any]) -> None:
    a = cfg.acceptance
    record = frozen_record(a.name, list(a.criteria), utc_now())
    write_json(rd.acceptance, record)
    log.append("acceptance_frozen", {"name": a.name, "sha256": record["sha256"], "criteria": [c["text"] for c in record["criteria"]]},
               outputs=file_hashes(rd.root, [rd.acceptance]))


def record_development(cfg, rd: RunDir, log: EventLog, manifest: dict[str, Any]) -> None:
    manifest["development"] = development_fingerprint(to_container(cfg), manifest["data"]["sha256"])
    write_json(rd.manifest, manifest)
    log.append("development_fingerprinted", manifest["development"])


def seal_test(splits, rd: RunDir, log: EventLog, manifest: dict[str, Any]) -> None:
    record = seal_record(splits.test, manifest["data"]["sha256"])
    write_json(rd.sealed_test, record)
    log.append("test_sealed", {"rows": record["rows"], "rows_sha256": record["rows_sha256"]},
               outputs=file_hashes(rd.root, [rd.sealed_test]))


def assess_validation(cfg, y: np.ndarray, probs: np.ndarray, classes: list[str], extra, rd: RunDir, log: EventLog) -> dict[str, Any]:
    result = assess(y, probs, classes, extra, to_container(cfg.data), to_container(cfg.evaluation), cfg.seed)
    write_json(rd.assessment("val"), result)
    plots = write_plots(result, classes, lambda name: rd.assessment_plot("val", name), "Validation")
    ci = result["ci"]
    log.append("validation_assessed", {"mcc": ci["mcc"], "balanced_accuracy": ci["balanced_accuracy"], "auroc": ci["auroc"],
                                       "resamples": ci["resamples"], "subgroup_columns": list(result["subgroups"]),
                                       "periods": bool(result["periods"])},
               outputs=file_hashes(rd.root, [rd.assessment("val"), *plots]))
    print("\nValidation with confidence intervals:\n" + "\n".join(summary_lines(result)), flush=True)
    return result
