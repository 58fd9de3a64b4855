"""Bad input: one clear message naming the problem, a non-zero exit, no run that looks complete."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli, run_train

pytestmark = pytest.mark.slow


def _assert_refused(proc, rd, *needles, code=None):
    assert proc.returncode != 0, proc.stdout[-2000:]
    if code is not None:
        assert proc.returncode == code
    err = proc.stderr
    for needle in needles:
        assert needle in err, f"{needle!r} not in stderr:\n{err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    if rd is not None and (rd / "manifest.json").exists():
        manifest = json.loads((rd / "manifest.json").read_text())
        assert manifest["status"] == "failed" and manifest["error"]
        assert not (rd / "model.pt").exists() and not (rd / "metrics.json").exists()


@pytest.mark.parametrize("override, needles", [
    ("model.dropuot=0.3", ["model.dropuot", "Key 'dropuot' not in 'MLPConfig'"]),
    ("trainer.max_epochs=ten", ["trainer.max_epochs", "could not be converted to Integer"]),
    ("+experiment=nope", ["experiment/nope", "logistic_baseline"]),
])
def test_config_typos_fail_at_compose_time(tmp_path, override, needles):
    proc, rd = run_train(tmp_path, override, check=False)
    _assert_refused(proc, rd, *needles, code=2)  # bad input, not 1 (an acceptance criterion failed)
    assert rd is None  # nothing was created: the config never composed


def test_out_of_range_values_are_all_reported_at_once(tmp_path):
    proc, rd = run_train(tmp_path, "model.dropout=1.5", "optim.lr=-1", "split.train=0.9", check=False)
    _assert_refused(proc, rd, "model.dropout must be in [0, 1); got 1.5", "optim.lr must be > 0; got -1.0",
                    "split.train + split.val + split.test must be 1.0", code=2)
    assert rd is None or not (rd / "manifest.json").exists()


def test_clipping_with_deepspeed_is_refused_not_dropped(tmp_path):
    proc, rd = run_train(tmp_path, "trainer.strategy=deepspeed_stage_2", "trainer.gradient_clip_val=1.0", check=False)
    _assert_refused(proc, rd, "trainer.gradient_clip_val must be null with a DeepSpeed strategy", code=2)
    assert rd is None or not (rd / "manifest.json").exists()


def test_a_data_file_without_the_table_source_is_refused(tmp_path):
    # without data=table the default source is the built-in breast-cancer table, which would have
    # trained while the user believed their file was used
    path = _table(tmp_path, a=np.arange(50.0), y=[0, 1] * 25)
    proc, rd = run_train(tmp_path, f"data.path={path}", "data.target=y", check=False)
    _assert_refused(proc, rd, "data.path must be unset with data.source='breast_cancer'", "data=table", code=2)
    assert rd is None or not (rd / "manifest.json").exists()


def _table(tmp_path, **cols) -> str:
    path = tmp_path / "data.csv"
    pd.DataFrame(cols).to_csv(path, index=False)
    return str(path)


def test_missing_data_file(tmp_path):
    proc, rd = run_train(tmp_path, "data=table", f"data.path={tmp_path / 'nope.csv'}", "data.target=y", check=False)
    _assert_refused(proc, rd, "data file not found", "nope.csv", code=2)


def test_target_column_absent(tmp_path):
    path = _table(tmp_path, a=np.arange(50.0), label=[0, 1] * 25)
    proc, rd = run_train(tmp_path, "data=table", f"data.path={path}", "data.target=outcome", check=False)
    _assert_refused(proc, rd, "data.target='outcome' is not a column", "label", code=2)


def test_target_with_a_single_class(tmp_path):
    path = _table(tmp_path, a=np.arange(50.0), y=["yes"] * 50)
    proc, rd = run_train(tmp_path, "data=table", f"data.path={path}", "data.target=y", check=False)
    _assert_refused(proc, rd, "single class", "'yes'", code=2)


def test_target_with_no_value_at_all(tmp_path):
    path = _table(tmp_path, a=np.arange(50.0), y=[np.nan] * 50)
    proc, rd = run_train(tmp_path, "data=table", f"data.path={path}", "data.target=y", check=False)
    _assert_refused(proc, rd, "'y'", "empty in all 50 row(s)", code=2)
    assert "IndexError" not in proc.stderr


def test_split_leaving_a_class_absent(tmp_path):
    path = _table(tmp_path, a=np.arange(100.0), y=["common"] * 97 + ["rare"] * 3)
    proc, rd = run_train(tmp_path, "data=table", f"data.path={path}", "data.target=y",
                         "split.train=0.9", "split.val=0.05", "split.test=0.05", check=False)
    _assert_refused(proc, rd, "rare", code=2)


@pytest.mark.parametrize("content", [bytes(range(256)) * 20, b"just one line of text\n"])
def test_data_file_that_is_not_a_table(tmp_path, content):
    path = tmp_path / "notes.csv"
    path.write_bytes(content)
    proc, rd = run_train(tmp_path, "data=table", f"data.path={path}", "data.target=y", check=False)
    _assert_refused(proc, rd, "notes.csv", code=2)


def test_subgroup_columns_named_like_paths_write_only_inside_the_run(tmp_path):
    """A column's name is data: a subgroup named ``a/../../../escaped`` (or ``site/region``, or ``period`` beside the
    calendar's own plot, or 200 characters long) gets a file of its own inside the run, and audit verify passes."""
    rng = np.random.default_rng(0)
    n = 300
    lab = rng.normal(5, 1, n)
    hostile = {"a/../../../escaped": rng.choice(list("ABC"), n), "site/region": rng.choice(["N", "S"], n),
               "period": rng.choice(["early", "late"], n), "g" * 200: rng.choice(["x", "y"], n)}
    frame = pd.DataFrame({"lab": lab, "age": rng.normal(60, 10, n), **hostile,
                          "visit": pd.date_range("2020-01-01", periods=n, freq="3D").strftime("%Y-%m-%d"),
                          "y": np.where(lab + rng.normal(0, 1, n) > 5, "yes", "no")})
    frame.to_csv(tmp_path / "data.csv", index=False)
    names = ",".join(f"'{c}'" for c in hostile)
    proc, rd = run_train(tmp_path, "data=table", f"data.path={tmp_path / 'data.csv'}", "data.target=y",
                         f"data.subgroup_columns=[{names}]", "data.time_column=visit", "data.categorical=[]",
                         "trainer.max_epochs=1", "explain=none", "eda.plots=true", check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".data", "data.csv", "run"]  # nothing beside the run
    plots = {p.relative_to(rd).as_posix() for p in (rd / "plots").rglob("*.png")}
    forest = sorted(p for p in plots if p.startswith("plots/forest_"))
    assert len(forest) == len(hostile) + 1 and "plots/forest_period_val.png" in forest, forest  # the calendar's own
    assert all("/" not in p.removeprefix("plots/") and len(Path(p).name) < 100 for p in plots), plots
    assert len([p for p in plots if p.startswith("plots/eda_subgroup_")]) == len(hostile), plots
    assert run_cli("audit", "verify", str(rd)).returncode == 0


def test_labels_spelled_two_ways_duplicate_ids_and_twice_named_inputs_are_named(tmp_path):
    """'yes' and 'Yes' were two classes of a silent 4-class model; a duplicated id was not named; a numeric column named
    'sex=F' beside categorical 'sex' gave two inputs called 'sex=F'."""
    rng = np.random.default_rng(0)
    n = 300
    lab = rng.normal(5, 1, n)
    y = np.where(lab + rng.normal(0, 1, n) > 5, "yes", "no").astype(object)
    y[::10] = [v.capitalize() for v in y[::10]]
    y[3] = " no"
    frame = pd.DataFrame({"lab": lab, "sex": rng.choice(["F", "M"], n), "sex=F": rng.normal(size=n), "y": y,
                          "pid": np.arange(n)})
    cases = {
        "labels": (frame, ["the label column 'y'", "spells a class in more than one way", "'no' x", "' no' x1", "'No' x"]),
        "ids": (frame.assign(y=np.where(lab > 5, "yes", "no"), pid=np.r_[np.arange(n - 1), 7]),
                ["data.id_column='pid' must hold unique integers", "7 occurs 2 times (rows 8, 300)"]),
        "inputs": (frame.assign(y=np.where(lab > 5, "yes", "no")), ["model input name(s) ['sex=F'] would occur twice"]),
    }
    for name, (table, needles) in cases.items():
        (tmp_path / name).mkdir()
        table.to_csv(tmp_path / name / "data.csv", index=False)
        proc, rd = run_train(tmp_path / name, "data=table", f"data.path={tmp_path / name / 'data.csv'}", "data.target=y",
                             "data.id_column=pid", "trainer.max_epochs=1", "explain=none", "leakage.enabled=false",
                             check=False)
        _assert_refused(proc, rd, *needles, code=2)


def test_parquet_lists_twice_named_columns_and_decimals(tmp_path):
    """A list column gave a traceback (exit 70); two columns of one name gave Arrow's schema dump; a decimal column (as
    databases export numbers) was refused as '300 numbers and 0 text value(s)'. Decimals are numbers now, in training
    and in the chunked reader predict and monitor use."""
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    from medtorch.deploy.reading import read_chunks

    rng = np.random.default_rng(0)
    n = 300
    lab = rng.normal(5, 1, n).round(2)
    y = pa.array(np.where(lab + rng.normal(0, 1, n) > 5, "yes", "no"))
    dec = pa.array([Decimal(f"{v:.2f}") for v in lab], type=pa.decimal128(10, 2))
    tables = {"lists": pa.table({"lab": lab, "codes": pa.array([[1, 2]] * n), "y": y}),
              "twice": pa.Table.from_arrays([pa.array(lab), pa.array(lab), y], names=["lab", "lab", "y"]),
              "decimal": pa.table({"dec": dec, "age": rng.normal(60, 10, n), "y": y})}
    needles = {"lists": ["column 'codes' holds list<", "(a list or record in each cell)", "Flatten it"],
               "twice": ["duplicate column name(s): 'lab' at columns 1, 2"]}
    for name, table in tables.items():
        (tmp_path / name).mkdir()
        path = tmp_path / name / "data.parquet"
        pq.write_table(table, path)
        proc, rd = run_train(tmp_path / name, "data=table", f"data.path={path}", "data.target=y", "trainer.max_epochs=1",
                             "explain=none", check=False)
        if name in needles:
            _assert_refused(proc, rd, *needles[name], code=2)
        else:
            assert proc.returncode == 0, proc.stderr[-3000:]
            assert "dec" in [c["column"] for c in json.loads((rd / "preprocessing.json").read_text())["numeric"]]
            chunk = next(read_chunks(path, [], chunk_rows=100))
            assert chunk["dec"].dtype == np.float64 and chunk["dec"].iloc[0] == lab[0]


def test_dates_and_decimal_commas_in_text_columns_are_named(tmp_path):
    """ISO dates in a CSV feature column stopped the run as an identifier leak (exit 4) while Parquet dates got 'holds
    dates'; numbers with a decimal comma trained as 150-odd one-hot levels with only a warning."""
    from medtorch.data.table_checks import text_shapes

    rng = np.random.default_rng(0)
    n = 300
    lab = rng.normal(5, 1, n)
    frame = pd.DataFrame({"lab": lab, "seen": pd.date_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
                          "crp": [f"{v:.2f}".replace(".", ",") for v in rng.normal(8, 2, n)],
                          "y": np.where(lab > 5, "yes", "no")})
    path = _table(tmp_path, **frame)
    proc, rd = run_train(tmp_path, "data=table", f"data.path={path}", "data.target=y", "trainer.max_epochs=1",
                         "explain=none", check=False)
    _assert_refused(proc, rd, "column 'seen' holds dates (e.g. '2020-01-01'): name it data.time_column=seen",
                    "column 'crp' holds numbers written with a comma (e.g.", "a decimal comma or a thousands separator",
                    "data.categorical=[COLUMN]", code=2)
    text_shapes(frame[["seen", "crp"]], ["seen", "crp"], path)  # declared categorical: the user's choice
    text_shapes(pd.DataFrame({"code": ["1,2", "3,4"] * 5, "when": ["2020-01"] * 10}), [], path)  # few codes; months
    from medtorch.data.table_checks import header_duplicates
    from medtorch.errors import MedtorchError

    (tmp_path / "blank.csv").write_text("a,b,,\n1,2,3,4\n")  # trailing commas, as spreadsheets export
    with pytest.raises(MedtorchError, match="a blank name at columns 3, 4"):
        header_duplicates(tmp_path / "blank.csv", "csv", None)
