"""Issue 19, point 5: the README's Python API example runs as written, in this process."""

from __future__ import annotations

import json
import re
import sys

import pytest

from conftest import REPO


def _readme_example() -> str:
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- python-api-example[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert block, "the README's Python API example (marked python-api-example) is missing"
    return block.group(1)


@pytest.mark.slow
def test_readme_python_api_example_runs_in_process(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # runs/ and the test-set ledger go where a notebook's would: the working directory
    namespace: dict = {}
    exec(compile(_readme_example(), "README.md#python-api", "exec"), namespace)
    run, same = namespace["run"], namespace["same"]
    assert run.path.is_relative_to(tmp_path / "runs" / "logistic_baseline") and run.path == same.path
    assert run.report_path.is_file() and len(run.predictions) == run.metrics["val"]["n"]
    assert run.manifest["status"] == "complete" and run.metrics["epochs_trained"] <= 5
    assert set(namespace["explanation"]["methods"]) == {"feature_ablation"}
    actions = {json.loads(line)["action"] for line in (run.path / "events.jsonl").read_text().splitlines()}
    assert {"predicted", "bridge_evaluated", "explanation_written", "test_evaluated"} <= actions  # each act recorded
    assert (tmp_path / "test_ledger.jsonl").is_file()
    assert "torch" in sys.modules  # (the light-import check is in test_loggers_callbacks_schedulers.py)


def test_open_run_refuses_a_directory_that_is_not_a_run(tmp_path):
    import medtorch

    with pytest.raises(medtorch.MedtorchError, match="not a medtorch run directory"):
        medtorch.open_run(tmp_path)
