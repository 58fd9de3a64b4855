"""Artefact JSON (medtorch.atomic.dumps): indented, lists of numbers on one line, the same values back."""

import json
import math

import numpy as np

from medtorch.atomic import dumps


def test_dumps_reads_back_as_the_same_values():
    obj = {"n": 3, "x": 0.1, "nan": float("nan"), "inf": np.float64("inf"), "np": np.float32(2.5), "i": np.int64(7),
           "arr": np.array([1.5, np.nan]), "matrix": [[1, 2.0], [None, 3]], "ragged": [[1], [2, 3], []],
           "strings": ["], [", "a"], "mixed": [1, {"k": [1, 2]}, "s"], "empty": {}, "none": None, "flag": True,
           "nested": {"deep": {"deeper": [[0.25] * 3] * 2}}}
    back = json.loads(dumps(obj))
    expected = json.loads(json.dumps({"n": 3, "x": 0.1, "nan": None, "inf": None, "np": 2.5, "i": 7, "arr": [1.5, None],
                                      "matrix": [[1, 2.0], [None, 3]], "ragged": [[1], [2, 3], []],
                                      "strings": ["], [", "a"], "mixed": [1, {"k": [1, 2]}, "s"], "empty": {},
                                      "none": None, "flag": True, "nested": {"deep": {"deeper": [[0.25] * 3] * 2}}}))
    assert back == expected


def test_numbers_round_trip_exactly_and_lists_of_numbers_stay_on_one_line():
    rng = np.random.default_rng(0)
    values = rng.standard_normal(1000).tolist()
    text = dumps({"values": values, "rows": [values[:2], values[2:4]]})
    back = json.loads(text)
    assert back["values"] == values and all(not math.isnan(v) for v in back["values"])
    lines = text.splitlines()
    assert len(lines) == 7  # {, values, rows: [, row, row, ], }
    assert lines[0] == "{" and lines[1].startswith('  "values": [') and lines[-1] == "}"
