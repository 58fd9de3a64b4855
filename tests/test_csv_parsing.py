"""Training and prediction parse the same CSV into the same doubles.

Training reads a table with ``medtorch.data.sources.read_table``; ``medtorch predict`` and
``monitor`` read theirs in chunks with pyarrow (``medtorch.deploy.reading``). pandas' default
float parser is off by one ulp for many 17-digit decimals, so without ``float_precision=
"round_trip"`` the same file gave the network different inputs in training and in prediction.
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
