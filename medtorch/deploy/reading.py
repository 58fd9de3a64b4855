"""Read an input table (CSV or Parquet) in chunks of rows, so memory stays bounded.

Categorical columns are read as text and made levels by ``medtorch.data.levels.level_text``,
as training made them, so ``1`` and ``1.0`` in a new file (with or without missing values
in its chunk) both match the level ``"1"`` the model was trained with. A file that is empty, has no data rows, is not UTF-8 text, or is not
a table is refused with a message naming the file and what was found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pandas as pd

from medtorch.data.levels import level_text
from medtorch.errors import MedtorchError


def _fmt(path: Path) -> str:
    return "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"


def _undecodable(path: Path, what: str, e: Exception) -> MedtorchError:
    return MedtorchError(f"{path} could not be decoded as {what}: {type(e).__name__}: {str(e).strip()}. "
                         f"Give a UTF-8 CSV file with a header row, or a Parquet file (.parquet).")


def read_chunks(path: str | Path, text_columns: list[str], chunk_rows: int = 100_000) -> Iterator[pd.DataFrame]:
    """Yield frames of at most ``chunk_rows`` rows with a 0..n-1 index; the first has the header."""
    path = Path(path)
    if not path.is_file():
        raise MedtorchError(f"input file not found: {path}.")
    if path.stat().st_size == 0:
        raise MedtorchError(f"{path} is empty (0 bytes): expected a header row and at least one data row.")
    any_rows = False
    chunks = _parquet_chunks(path, chunk_rows) if _fmt(path) == "parquet" else _csv_chunks(path, text_columns, chunk_rows)
    for chunk in chunks:
        chunk.columns = [str(c) for c in chunk.columns]
        for col in text_columns:
            if col in chunk.columns:
                chunk[col] = level_text(chunk[col])
        if len(chunk):
            any_rows = True
            yield chunk.reset_index(drop=True)
        elif not any_rows:
            header = list(chunk.columns)
            raise MedtorchError(f"{path} has a header ({len(header)} columns) but no data rows: nothing to check or predict.")
    if not any_rows:
        raise MedtorchError(f"{path} has no data rows: nothing to check or predict.")


def _csv_chunks(path: Path, text_columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise MedtorchError(f"{path} holds no table (no header row).") from None
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as e:
        raise _undecodable(path, "UTF-8 CSV", e) from None
    dtype = {c: "string" for c in text_columns if c in header.columns}
    try:
        reader = pd.read_csv(path, chunksize=chunk_rows, dtype=dtype, encoding="utf-8")
        with reader:
            got = False
            for chunk in reader:
                got = True
                yield chunk
            if not got:
                yield header
    except (UnicodeDecodeError, pd.errors.ParserError) as e:
        raise _undecodable(path, "UTF-8 CSV", e) from None


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a file that is not Parquet
        raise _undecodable(path, "Parquet", e) from None
    if pf.metadata.num_rows == 0:
        yield pf.schema_arrow.empty_table().to_pandas()
        return
    for batch in pf.iter_batches(batch_size=chunk_rows):
        yield batch.to_pandas()
