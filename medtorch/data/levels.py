"""Category levels as text, the same at training time and for every later input.

A categorical value's level is its text, with one normalisation: a whole number written
with a decimal part is written without it. pandas reads an integer-coded column that has
missing values as floats (``1.0``), and writes such a column back to CSV as ``1.0``; a file
read in chunks can hold ``1`` in one chunk and ``1.0`` in the next. All of these are the
level ``"1"``. Booleans are ``"True"`` and ``"False"`` whatever their case in the file
(pandas parses ``true``/``TRUE`` as a boolean column, a text reader keeps the text). Other
text is kept as it is (``"007"``, ``"1.5"``, ``"A"``), and missing stays missing.

Training (``medtorch.data.sources``), the data specification, the monitoring reference,
``predict`` and ``monitor`` (``medtorch.deploy.reading``) all go through ``level_text``, and
the categorical columns of CSV files are read as text on both sides, so a level never
depends on what else is in its column or chunk.
"""

from __future__ import annotations

import pandas as pd

# "1.0", "-3.00", "2." -> "1", "-3", "2"; "1.5", "1e+16", "007" are left alone
_WHOLE_WITH_DECIMALS = r"^(-?\d+)\.0*$"


def level_text(s: pd.Series) -> pd.Series:
    """The column's values as category levels (pandas ``string`` dtype, missing as ``<NA>``)."""
    text = s.astype("string")
    text = text.str.replace(_WHOLE_WITH_DECIMALS, r"\1", regex=True)
    text = text.mask((text == "-0").fillna(False), "0")
    lower = text.str.lower()
    return text.mask((lower == "true").fillna(False), "True").mask((lower == "false").fillna(False), "False")
