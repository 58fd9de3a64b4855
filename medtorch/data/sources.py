"""Load a raw table (embedded breast-cancer data, the synthetic cohort, or a CSV/Parquet file).

The result is a ``RawTable``: the raw frame, the label column encoded as class indices, the
class names, a row identity for every row, and where it came from (path, hash, shape). No
statistics are computed here: everything learned from data is learned after the split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medtorch.data import table_checks
from medtorch.data.levels import level_text
from medtorch.errors import MedtorchError
from medtorch.hashing import sha256_bytes, sha256_file


@dataclass
class RawTable:
    frame: pd.DataFrame  # feature columns only, in file order, raw values
    y: np.ndarray  # int64 class index per row
    classes: list[str]  # class names, index = class code
    ids: np.ndarray  # int64 row identity (the id column, or the row number in the file)
    source: dict[str, Any]  # kind, name/path, sha256, rows, columns
    extra: pd.DataFrame = field(default_factory=pd.DataFrame)  # subject/time/subgroup columns, by row
    dropped: list[dict[str, Any]] = field(default_factory=list)  # rows dropped and why
    # each kept row's place in the file, from 0 (the first data row after the header): messages name
    # rows by it (+1), so they stay right when rows without a label were dropped; None: not from a file
    row_number: np.ndarray | None = None


RECORD_KEY = "__record_key__"  # column of RawTable.extra: a hash of each whole raw row (ids and dates included)


def load(cfg, drop_optional: bool = False) -> RawTable:
    """Load the data named by ``cfg`` (the ``data`` config group). With ``drop_optional`` a column
    of ``data.drop`` the table lacks is not an error (new test data need not carry it)."""
    if cfg.source == "breast_cancer":
        return _breast_cancer()
    if cfg.source == "table":
        frame = read_table(cfg.path, cfg.format, text_columns=list(cfg.categorical))
        path = Path(cfg.path)
        return _table(cfg, frame, path, {"kind": "file", "path": str(path.resolve()), "sha256": sha256_file(path)},
                      drop_optional=drop_optional)
    if cfg.source == "synthetic_cohort":
        from medtorch.data.cohort import CohortSpec, generate_cohort

        spec = CohortSpec.from_config(cfg.cohort)
        frame = generate_cohort(spec)
        digest = sha256_bytes(frame.to_csv(index=False).encode())
        return _table(cfg, frame, Path("synthetic_cohort"),
                      {"kind": "synthetic", "name": "medtorch.data.cohort.generate_cohort", "params": vars(spec),
                       "sha256": digest})
    raise MedtorchError(f"data.source must be 'breast_cancer', 'table' or 'synthetic_cohort'; got {cfg.source!r}.")


def load_external_test(cfg, path: str, classes: list[str]) -> RawTable:
    """An external test file (new or prospective data) read with the same data config.

    Its labels are coded with the training table's classes; a label the training table does
    not have is refused, naming it.
    """
    frame = read_table(path, "auto", text_columns=list(cfg.categorical))
    p = Path(path)
    raw = _table(cfg, frame, p, {"kind": "file", "path": str(p.resolve()), "sha256": sha256_file(p)}, classes=classes)
    return raw


def _breast_cancer() -> RawTable:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    csv = Path(load_breast_cancer.__code__.co_filename).parent / "data" / "breast_cancer.csv"
    digest = sha256_file(csv) if csv.is_file() else sha256_bytes(bunch.frame.to_csv(index=False).encode())
    frame = bunch.data.reset_index(drop=True)
    return RawTable(
        frame=frame,
        y=bunch.target.to_numpy().astype(np.int64),
        classes=[str(c) for c in bunch.target_names],
        ids=np.arange(len(frame), dtype=np.int64),
        source={"kind": "embedded", "name": "sklearn.datasets.load_breast_cancer", "sha256": digest,
                "rows": int(frame.shape[0]), "columns": int(frame.shape[1]) + 1},
    )


def read_table(path: str | Path, fmt: str = "auto", text_columns: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file, or fail naming the file and what is wrong with it.

    ``text_columns`` (declared categorical columns) are read from a CSV file as text, as
    ``predict`` and ``monitor`` read them (see ``medtorch.data.levels``).
    """
    path = Path(path)
    if not path.is_file():
        raise MedtorchError(f"data.path {path} is a directory; give the CSV or Parquet file in it (data.path=FILE)."
                            if path.is_dir() else
                            f"data file not found: {path} (set data.path=FILE to an existing CSV or Parquet file).")
    if fmt == "auto":
        fmt = "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            from medtorch.deploy.reading import arrow_frame, refuse_nested_or_twice_named

            refuse_nested_or_twice_named(pq.read_schema(path), path)  # before the columns are read
            frame = arrow_frame(pq.read_table(path), path)
        else:
            # the reader medtorch predict and monitor use (pyarrow, every column typed as pandas.read_csv
            # types it), so training and prediction parse a CSV to the same values bit for bit; in one chunk
            frame = _whole_csv(path, list(text_columns or []))
    except MedtorchError:
        raise
    except Exception as e:  # pandas/pyarrow raise many types for a file that is not a table
        raise MedtorchError(f"{path} could not be read as {fmt.upper()}: {type(e).__name__}: {e}".strip()) from None
    table_checks.header_duplicates(path, fmt, frame)
    if frame.shape[0] == 0 or frame.shape[1] < 2:
        raise MedtorchError(
            f"{path} is not a usable table: it has {frame.shape[0]} rows and {frame.shape[1]} columns "
            f"(need a header row, a label column and at least one feature column){table_checks.separator_hint(list(frame.columns))}."
        )
    return frame


def _whole_csv(path: Path, text_columns: list[str]) -> pd.DataFrame:
    from medtorch.deploy.reading import read_chunks

    chunks = list(read_chunks(path, text_columns, chunk_rows=1 << 62))
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)


def _table(cfg, frame: pd.DataFrame, path: Path, source: dict[str, Any], classes: list[str] | None = None,
           drop_optional: bool = False) -> RawTable:
    cols = [str(c) for c in frame.columns]
    frame.columns = cols

    def check(col, key):
        if col is not None and col not in cols:
            raise MedtorchError(
                f"{key}={col!r} is not a column of {path}. Columns: {', '.join(cols[:30])}"
                + (" ..." if len(cols) > 30 else "")
            )

    check(cfg.target, "data.target")
    for key in ("id_column", "subject_column", "time_column"):
        check(cfg[key], f"data.{key}")
    for key in ("categorical", "drop", "subgroup_columns"):
        for col in cfg[key]:
            if not (drop_optional and key == "drop"):
                check(col, f"data.{key}")

    dropped = []
    missing_label = frame[cfg.target].isna().to_numpy()
    if missing_label.any():
        if missing_label.all():
            raise MedtorchError(f"the label column {cfg.target!r} of {path} is empty in all {len(frame)} row(s); "
                                "rows without a label cannot be used, so nothing is left. Check data.target.")
        dropped.append({"reason": f"label column {cfg.target!r} is missing", "rows": int(missing_label.sum())})
    row_number = np.arange(len(frame), dtype=np.int64)
    keep = ~missing_label
    if not keep.all():  # nothing to drop: no copy of the frame
        frame, row_number = frame.loc[keep].reset_index(drop=True), row_number[keep]
    record = pd.util.hash_pandas_object(frame, index=False).to_numpy()  # the whole raw row, before any column is removed

    ids = row_number
    if cfg.id_column is not None:
        idcol = frame[cfg.id_column]
        if not pd.api.types.is_integer_dtype(idcol) or idcol.duplicated().any():
            dup = idcol[idcol.duplicated(keep=False)]
            found = (f"it holds {idcol.dtype} values" if not pd.api.types.is_integer_dtype(idcol) else
                     f"{dup.tolist()[0]!r} occurs {int((dup == dup.iloc[0]).sum())} times (rows "
                     + ", ".join(str(int(r) + 1) for r in row_number[(idcol == dup.iloc[0]).to_numpy()][:5]) + ")")
            raise MedtorchError(f"data.id_column={cfg.id_column!r} must hold unique integers in {path}; {found}.")
        ids = idcol.to_numpy().astype(np.int64)

    labels = frame[cfg.target]
    values = sorted(labels.unique().tolist(), key=lambda v: (isinstance(v, str), v))
    if classes is not None:  # an external table: code its labels with the training classes
        names = [_class_name(v) for v in values]
        unknown = sorted(set(names) - set(classes))
        if unknown:
            raise MedtorchError(f"{path}: label value(s) {unknown} of column {cfg.target!r} are not classes of the "
                                f"training table ({classes}); an external test file must use the same classes.")
        codes = np.array([classes.index(_class_name(v)) for v in labels.tolist()], dtype=np.int64)
        values = None
    elif len(values) < 2:
        raise MedtorchError(
            f"the label column {cfg.target!r} of {path} has a single class ({values[0]!r} in all "
            f"{len(labels)} rows); a classifier needs at least two."
        )
    if values is not None:
        _refuse_spelling_variants(labels, values, cfg.target, path)
        codes = pd.Categorical(labels, categories=values).codes.astype(np.int64)
        classes = [_class_name(v) for v in values]
    if cfg.time_column:
        frame[cfg.time_column] = _parse_time(frame[cfg.time_column], cfg.time_column, path, cfg.get("time_unit"),
                                             cfg.get("time_origin"), row_number)

    meta_cols = [c for c in (cfg.subject_column, cfg.time_column) if c] + list(cfg.subgroup_columns)
    non_features = {cfg.target, cfg.id_column, cfg.subject_column, cfg.time_column, *cfg.drop}
    extra = frame[list(dict.fromkeys(meta_cols))].copy() if meta_cols else pd.DataFrame(index=frame.index)
    extra[RECORD_KEY] = record
    features = [c for c in cols if c not in non_features]
    if not features:
        raise MedtorchError(f"{path}: no feature columns are left after removing the label, id and dropped columns.")
    feat = frame[features].copy()
    table_checks.mixed_types(feat, list(cfg.categorical), path)
    table_checks.text_shapes(feat, list(cfg.categorical), path)
    nonfinite = table_checks.nonfinite(feat, row_number, cfg.get("nonfinite") or "refuse", path)
    for col in feat.columns:
        if pd.api.types.is_datetime64_any_dtype(feat[col]):
            raise MedtorchError(
                f"column {col!r} of {path} holds dates; name it data.time_column={col} or list it in data.drop."
            )
        if col in cfg.categorical or _is_text(feat[col]) or pd.api.types.is_bool_dtype(feat[col]):
            # levels as every later input will have them
            feat[col] = level_text(feat[col])
    text_columns = [c for c in feat.columns if _is_text(feat[c])]
    warnings = table_checks.high_cardinality(feat, text_columns)
    return RawTable(
        frame=feat,
        y=codes,
        classes=classes,
        ids=ids,
        source={**source, "rows": int(len(missing_label)), "columns": len(cols), "target": cfg.target,
                "nonfinite": nonfinite, **({"warnings": warnings} if warnings else {})},
        extra=extra,
        dropped=dropped,
        row_number=row_number,
    )


def _parse_time(s: pd.Series, col: str, path: Path, unit: str | None = None, origin: str | None = None,
                row_number: np.ndarray | None = None) -> pd.Series:
    """Dates (ISO strings or datetimes) as datetime64; integer years (1800-2200) are kept as numbers;
    counts of ``unit`` since ``origin`` become dates; any other integer column is refused."""
    from medtorch.data.calendar import to_dates

    if s.isna().any():
        raise MedtorchError(f"data.time_column={col!r} of {path} has {int(s.isna().sum())} missing value(s); "
                            "every row needs a date for a temporal split. Fill or drop those rows.")
    dates = to_dates(s, col, unit, origin, where=str(path), row_number=row_number)  # refuses what is neither dates nor years nor counts
    if pd.api.types.is_numeric_dtype(s) and unit is None:
        return s  # calendar years, compared as numbers (split.train_end=2019)
    return pd.Series(dates.to_numpy(), index=s.index)


def _is_text(s: pd.Series) -> bool:
    return s.dtype == object or isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype))


def _class_name(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _refuse_spelling_variants(labels: pd.Series, values: list, target: str, path: Path) -> None:
    """Refuse labels that differ only in case or surrounding spaces ('yes', 'Yes', ' yes'): each would be a class of
    its own, and the model would learn to tell the spellings apart."""
    groups: dict[str, list[str]] = {}
    for v in values:
        if isinstance(v, str):
            groups.setdefault(v.strip().casefold(), []).append(v)
    variants = [g for g in groups.values() if len(g) > 1]
    if variants:
        counts = labels.value_counts()
        shown = "; ".join(" / ".join(f"{v!r} x{int(counts[v])}" for v in g) for g in variants[:5])
        raise MedtorchError(f"the label column {target!r} of {path} spells a class in more than one way (case or "
                            f"surrounding spaces): {shown}. Each spelling would be a class of its own; correct the "
                            "labels in the file.")
