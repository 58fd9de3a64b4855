"""Read an input table (CSV or Parquet) in chunks of rows, so memory stays bounded.

CSV is parsed by pyarrow (``pyarrow.csv``, streaming). Categorical columns are read as text and
made levels by ``medtorch.data.levels.level_text``,
as training made them, so ``1`` and ``1.0`` in a new file (with or without missing values
in its chunk) both match the level ``"1"`` the model was trained with. A file that is empty, has no data rows, is not UTF-8 text, or is not
a table is refused with a message naming the file and what was found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from medtorch.data.levels import level_text
from medtorch.deploy import CHUNK_ROWS
from medtorch.errors import MedtorchError

# Text columns are arrow-backed strings: the data-specification check (pandera) asks a column
# whether it has missing values several times, and on pandas' Python-object strings each answer
# walked every cell (40% of checking and preprocessing 100,000-row chunks); here it reads a bitmap.
TEXT = pd.StringDtype("pyarrow")


def _fmt(path: Path) -> str:
    return "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"


def _readable(text: str, limit: int = 300) -> str:
    """A parser's message for a terminal: the file's bytes it quotes back escaped (``\\x01``), at most ``limit``
    characters, so a binary file does not write control characters into the user's shell."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text.strip())
    return text if len(text) <= limit else text[:limit] + " ..."


def _undecodable(path: Path, what: str, e: Exception) -> MedtorchError:
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PAR1" and what != "Parquet":  # Parquet's magic number: a Parquet file under a CSV name
        return MedtorchError(f"{path} is a Parquet file (it begins with Parquet's magic bytes PAR1), but its name "
                             "does not end in .parquet or .pq, so it was read as CSV. Rename it with a .parquet "
                             "suffix (for training, data.format=parquet also reads it).")
    return MedtorchError(f"{path} could not be decoded as {what}: {type(e).__name__}: {_readable(str(e))}. "
                         f"Give a UTF-8 CSV file with a header row, or a Parquet file (.parquet).")


def _utf8_start(path: Path, size: int = 1 << 16) -> bool:
    """The file's first ``size`` bytes are UTF-8 text (a character cut at the end allowed): a CSV parse error in
    it is then a malformed row, not bytes that are no text at all."""
    with open(path, "rb") as f:
        head = f.read(size)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.reason == "unexpected end of data" and len(head) == size
    return b"\x00" not in head


def read_chunks(path: str | Path, text_columns: list[str], chunk_rows: int = CHUNK_ROWS,
                numeric_columns: Iterable[str] = ()) -> Iterator[pd.DataFrame]:
    """Yield frames of at most ``chunk_rows`` rows with a 0..n-1 index; the first has the header.

    ``numeric_columns`` (the specification's numbers) are read from a CSV as float64 where every
    cell of the chunk is a number; a chunk with text in such a column gets it as pandas would
    (the data-specification check then reports the cell).
    """
    path = Path(path)
    if not path.is_file():
        raise MedtorchError(f"{path} is a directory, not an input file." if path.is_dir() else f"input file not found: {path}.")
    if path.stat().st_size == 0:
        raise MedtorchError(f"{path} is empty (0 bytes): expected a header row and at least one data row.")
    if _fmt(path) == "csv":  # a repeated name would be read as "name.1", a column the file does not name
        from medtorch.data.table_checks import header_duplicates

        header_duplicates(path, "csv", None)
    any_rows = False
    chunks = (_parquet_chunks(path, chunk_rows) if _fmt(path) == "parquet"
              else _csv_chunks(path, text_columns, chunk_rows, tuple(numeric_columns)))
    for chunk in chunks:
        chunk.columns = [str(c) for c in chunk.columns]
        for col in text_columns:
            if col in chunk.columns:
                chunk[col] = _levels(chunk[col])
        if len(chunk):
            any_rows = True
            chunk.index = pd.RangeIndex(len(chunk))  # 0..n-1 without copying the frame
            yield chunk
        elif not any_rows:
            header = list(chunk.columns)
            raise MedtorchError(f"{path} has a header ({len(header)} columns) but no data rows: nothing to check or predict.")
    if not any_rows:
        raise MedtorchError(f"{path} has no data rows: nothing to check or predict.")


# pandas.read_csv's default missing-value markers: a CSV reads as it did with pandas
NA_VALUES = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
             "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]


def _levels(s: pd.Series) -> pd.Series:
    """``level_text`` of a column, computed once per distinct value (a categorical column has few)."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    if len(uniques) == 0:
        return pd.Series(pd.NA, index=s.index, dtype=TEXT)
    levels = level_text(pd.Series(uniques, dtype=object)).to_numpy()
    out = pd.Series(pd.array(levels, dtype=TEXT).take(np.maximum(codes, 0)), index=s.index)
    return out.mask(codes < 0)


def _csv_chunks(path: Path, text_columns: list[str], chunk_rows: int,
                numeric_columns: tuple[str, ...] = ()) -> Iterator[pd.DataFrame]:
    """pyarrow's streaming CSV reader (parsing in C++ on all cores), re-cut into frames of ``chunk_rows`` rows.

    ``numeric_columns`` are parsed as float64 by the reader. Should a cell of one not be a
    number, the file is read on from the first row not yet yielded with every cell as text,
    and each column is typed chunk by chunk as pandas would type it (integer, else float, else
    boolean, else text; ``text_columns`` stay text): the cell is then a violation of its row
    for the data-specification check, not a parse error. Other columns are typed that way always.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise MedtorchError(f"{path} holds no table (no header row).") from None
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as e:
        raise _undecodable(path, "UTF-8 CSV", e) from None
    names = [str(c) for c in header.columns]
    # the reader parses the numbers (the specification's, or those it finds in the first block), until a
    # cell in one is not a number; read as text and cast, training's 200,000 x 32 file took 0.54-0.77 s, this 0.29-0.44 s
    parsed = {c: pa.float64() for c in numeric_columns if c in names}
    if not parsed:  # no specification (training): the numbers the first block shows
        parsed = _numbers_in_first_block(path, names, text_columns, pa, pacsv)
    strict = bool(parsed)
    done = 0  # data rows yielded so far
    while True:
        types = {c: pa.string() for c in names}
        if strict:
            types.update(parsed)
        convert = pacsv.ConvertOptions(column_types=types, null_values=NA_VALUES, strings_can_be_null=True)
        # the header's names as pandas reads them: a repeated name becomes "name.1", an unknown column
        read = pacsv.ReadOptions(block_size=1 << 22, column_names=names, skip_rows=1, skip_rows_after_names=done)
        try:
            reader = pacsv.open_csv(path, read_options=read, convert_options=convert)
            pending: list = []
            held = 0
            for batch in reader:
                pending.append(batch)
                held += batch.num_rows
                while held >= chunk_rows:
                    table = pa.Table.from_batches(pending)
                    yield _typed(table.slice(0, chunk_rows), text_columns, numeric_columns)
                    done += chunk_rows
                    rest = table.slice(chunk_rows)
                    pending, held = rest.to_batches(), rest.num_rows
            if held:
                yield _typed(pa.Table.from_batches(pending), text_columns, numeric_columns)
            elif not done:
                yield header
            return
        except pa.ArrowInvalid as e:
            text = str(e)
            if "UTF8" in text or "UTF-8" in text:
                raise MedtorchError(f"{path} could not be decoded as UTF-8 CSV: UnicodeDecodeError: {_readable(text)}. "
                                    "Give a UTF-8 CSV file with a header row, or a Parquet file (.parquet).") from None
            if strict and "conversion error" in text:
                strict = False  # text in a numeric column: the rest is read as text, each chunk typed as pandas would
                continue
            if "CSV parse error" in text and _utf8_start(path):  # text, but a row does not fit the header
                raise MedtorchError(f"{path} is not a well-formed CSV file: {_readable(text)}. Every row needs as many "
                                    "fields as the header has columns (a truncated file, or a value with an unquoted "
                                    "separator).") from None
            raise _undecodable(path, "UTF-8 CSV", e) from None


def _numbers_in_first_block(path: Path, names: list[str], text_columns: list[str], pa, pacsv) -> dict:
    """The columns pyarrow reads as integer or float in the file's first block, with that type.

    As pandas would type them: whole numbers are int64 (float64 where a cell is missing, as pandas
    makes them), other numbers float64. Booleans, dates and text are left to ``_typed``, which
    types them as pandas does (pyarrow would read ISO dates as timestamps, which pandas does not).
    """
    read = pacsv.ReadOptions(block_size=1 << 20, column_names=names, skip_rows=1, use_threads=False)  # no read-ahead
    convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in text_columns if c in names},
                                   null_values=NA_VALUES, strings_can_be_null=True)
    try:
        batch = next(iter(pacsv.open_csv(path, read_options=read, convert_options=convert)), None)
    except (pa.ArrowInvalid, StopIteration):
        return {}  # the full read reports what is wrong with the file
    if batch is None:
        return {}
    return {f.name: f.type for f in batch.schema
            if f.name not in text_columns and (pa.types.is_int64(f.type) or pa.types.is_float64(f.type))}


def _typed(table, text_columns: list[str], numeric_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A chunk of text columns as a frame, each column typed as pandas.read_csv would type it."""
    import pyarrow as pa

    columns = {}
    for name, col in zip(table.column_names, table.columns):
        if name in text_columns:
            columns[name] = col.dictionary_encode()  # a categorical column has few distinct levels
            continue
        if col.type != pa.string():  # parsed by the reader already
            columns[name] = col
            continue
        kinds = (pa.float64(),) if name in numeric_columns else (pa.int64(), pa.float64(), pa.bool_())
        columns[name] = _first_cast(col, kinds)
    return pa.table(columns).to_pandas()


def _first_cast(col, kinds):
    """``col`` (text) cast to the first of ``kinds`` that holds every cell; the text itself if none does."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sample = pc.drop_null(col).slice(0, 64)
    for kind in kinds:
        try:
            pc.cast(sample, kind)  # a cheap look first: a text column fails here, not after a full pass
            return pc.cast(col, kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return col


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a file that is not Parquet
        raise _undecodable(path, "Parquet", e) from None
    if pf.metadata.num_rows == 0:
        yield arrow_frame(pf.schema_arrow.empty_table(), path)
        return
    refuse_nested_or_twice_named(pf.schema_arrow, path)  # before a batch is read
    for batch in pf.iter_batches(batch_size=chunk_rows):
        yield arrow_frame(batch, path)


def refuse_nested_or_twice_named(schema, path: Path) -> None:
    """Refuse a Parquet schema that names a column twice, or holds a list, record or map in a column's cells."""
    import pyarrow as pa

    from medtorch.data.table_checks import refuse_duplicates

    refuse_duplicates(list(schema.names), path)
    for field in schema:
        if pa.types.is_nested(field.type):
            raise MedtorchError(f"{path}: column {field.name!r} holds {field.type} values (a list or record in each "
                                "cell); medtorch reads one number, text, date or true/false value per cell. Flatten it "
                                "into columns, or remove it from the file.")


def arrow_frame(data, path: Path) -> pd.DataFrame:
    """A pyarrow Table or RecordBatch of a Parquet file as pandas, as training and every verb read Parquet: nested
    or twice-named columns refused, decimal columns (as databases export numbers) read as float64, not as Python
    Decimal objects, which pandas takes for text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    refuse_nested_or_twice_named(data.schema, path)
    if any(pa.types.is_decimal(f.type) for f in data.schema):
        data = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        for i, field in enumerate(data.schema):
            if pa.types.is_decimal(field.type):
                data = data.set_column(i, field.name, pc.cast(data.column(i), pa.float64()))
    return data.to_pandas()


def refuse_overwriting_input(input_path: str | Path, defaulted: frozenset[str] = frozenset(),
                             **outputs: str | Path | None) -> None:
    """Refuse an output file that is the input file itself (the same path or the same file by a link):
    the output is renamed into place when complete, which would replace the rows it was read from.
    ``defaulted`` names the outputs whose file the user did not give (derived from another one): the
    message then says so and names the option that sets it."""
    def same(a: Path, b: Path) -> bool:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))

    def name(flag: str, out: Path) -> str:
        option = "--" + flag.replace("_", "-")
        return f"the default {flag.replace('_', ' ')} file {out} ({option} not given)" if flag in defaulted \
            else f"{option} {out}"

    src = Path(input_path)
    given = [(flag, Path(out)) for flag, out in outputs.items() if out is not None]
    for flag, out in given:
        refuse_writing_into_a_run(out, name(flag, out))
        if out.is_dir():  # the finished file is renamed onto its path: a directory there cannot be replaced
            raise MedtorchError(f"{name(flag, out)} is a directory; give the path of a file to write.")
        if same(out, src):
            fix = f"Give --{flag.replace('_', '-')} another file." if flag in defaulted else "Give another output file."
            raise MedtorchError(f"{name(flag, out)} is the input file {src}; writing it would replace the input. {fix}")
    for i, (flag, out) in enumerate(given):
        for other, out2 in given[i + 1:]:
            if same(out, out2):
                raise MedtorchError(f"{name(flag, out)} and {name(other, out2)} are the same file; one would replace "
                                    "the other. Give each its own file.")


def enclosing_run(path: str | Path) -> Path | None:
    """The medtorch run directory (or cross-validation root) that ``path`` lies in, or None: the nearest folder at
    or above it that holds two of medtorch's event log, its head and the run's manifest (a file of the manifest's name
    alone, as many other tools write, does not make a folder a run; a run that lost one of the three still is one)."""
    from medtorch.run import RunDir

    for folder in (Path(path).resolve(), *Path(path).resolve().parents):
        rd = RunDir(folder)
        if rd.events.is_file() + rd.events_head.is_file() + rd.manifest.is_file() >= 2:
            return folder
    return None


def refuse_writing_into_a_run(out: str | Path, what: str, allowed: Path | None = None) -> None:
    """Refuse an output path inside a run directory (its files are evidence, recorded by hash: a file
    written over one would replace it, and one written beside them is not the run's), and one under
    an existing file (it cannot be a folder). ``allowed``: a folder of a run where the verb itself
    records what it writes (monitor's own reports under the monitored run's monitoring folder)."""
    out, full = Path(out), Path(out).resolve()
    for parent in full.parents:
        if parent.exists() and not parent.is_dir():
            raise MedtorchError(f"{what}: {parent} is a file, not a folder; give a path in a folder.")
    run = enclosing_run(full)
    if run is None:
        return
    inside_allowed = allowed is not None and full.is_relative_to(allowed.resolve()) and full != allowed.resolve()
    if inside_allowed and not (out.is_dir() and any(out.iterdir())):  # a new folder there, not an earlier report's
        return
    raise MedtorchError(f"{what} lies inside the medtorch run directory {run}; its files are the run's recorded "
                        "evidence and must not be written over or added to. Give a path outside any run directory.")
