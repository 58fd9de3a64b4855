"""Training and prediction parse the same CSV into the same doubles.

Training reads a table with ``medtorch.data.sources.read_table``; ``medtorch predict`` and
``monitor`` read theirs in chunks with pyarrow (``medtorch.deploy.reading``). pandas' default
float parser is off by one ulp for many 17-digit decimals, so when training read with it the
same file gave the network different inputs in training and in prediction. Training now reads
through the same pyarrow reader, whose columns are typed as pandas.read_csv types them.
"""

import numpy as np
import pandas as pd

from medtorch.data.sources import read_table
from medtorch.deploy.reading import read_chunks


def test_training_and_prediction_read_the_same_doubles_from_one_csv(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(5000, 4)) * 10.0 ** rng.integers(-6, 6, size=(5000, 4)),
                         columns=list("abcd"))
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)  # repr: 17 significant digits, the exact double back when parsed right
    trained = read_table(path)
    predicted = pd.concat(list(read_chunks(path, [], chunk_rows=1000)), ignore_index=True)
    assert np.array_equal(trained[list("abcd")].to_numpy(), frame.to_numpy())  # the written doubles, bit for bit
    assert np.array_equal(predicted[list("abcd")].to_numpy(dtype=float), trained[list("abcd")].to_numpy())


def test_training_read_types_columns_as_pandas_does(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("i,f,na_int,b,t,mixed,cat,y\n"
                    "1,0.5,3,True,a,1,1,0\n"
                    "2,-1e-3,,False,b,x,2.0,1\n"
                    "3,inf,5,True,NA,2,,0\n")
    ours = read_table(path, text_columns=["cat"])
    ref = pd.read_csv(path)
    assert list(ours.columns) == list(ref.columns)
    for c in ["i", "f", "na_int", "b", "y"]:
        assert ours[c].dtype == ref[c].dtype, c
        assert ours[c].equals(ref[c]), c
    assert ours["t"].isna().tolist() == ref["t"].isna().tolist()
    assert ours["mixed"].astype(str).tolist() == ref["mixed"].astype(str).tolist()
    assert ours["cat"].tolist()[:2] == ["1", "2"] and pd.isna(ours["cat"].iloc[2])


def test_a_column_whose_first_block_is_whole_numbers_but_later_is_not_reads_as_pandas_reads_it(tmp_path):
    # the reader types columns from the file's first block (1 MiB): later cells that do not fit that type
    # (a decimal, a word) must still give pandas' types and values, not an error or a truncated number
    n = 120_000  # well past the first block
    frame = pd.DataFrame({"a": np.arange(n), "b": np.arange(n), "c": np.arange(n) % 7, "y": np.arange(n) % 2})
    frame["a"] = frame["a"].astype(object)
    frame.loc[n - 1, "a"] = 2.5
    frame["b"] = frame["b"].astype(object)
    frame.loc[n - 2, "b"] = "unknown"
    path = tmp_path / "late.csv"
    frame.to_csv(path, index=False)
    ours, ref = read_table(path), pd.read_csv(path)
    assert ours["a"].dtype == ref["a"].dtype == np.float64 and ours["a"].equals(ref["a"])
    assert ours["b"].astype(str).tolist() == ref["b"].astype(str).tolist()
    assert ours["c"].dtype == ref["c"].dtype and ours["c"].equals(ref["c"])
