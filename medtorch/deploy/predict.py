"""Spec-checked prediction: check every row, preprocess as fitted, apply the model, stamp the result.

``predict_file`` streams the input in chunks (bounded memory for any number of rows). Each
chunk is checked against the run's data specification; valid rows go through the run's
fitted preprocessing and network (no Lightning); each output row carries the class
probabilities, the predicted class, the run id, the specification hash and the stack
fingerprint. Outputs are written to temporary files and renamed only when the whole input
has been processed, so a refusal or a crash leaves no output behind.

- ``on_invalid="refuse"`` (default): any violation refuses the whole input; every violation
  is counted, the first ``max_listed`` are listed in the error, all of them go to
  ``violations_path`` when given.
- ``on_invalid="quarantine"``: valid rows are predicted; rejected rows go, with their
  reasons, to a separate file.
Missing or unknown columns refuse the input in both modes: no row can be checked then.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections import Counter, deque
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

from medtorch.deploy.checks import SpecChecker, Violation
from medtorch.errors import MedtorchError

ON_INVALID = ("refuse", "quarantine")


class SpecViolationError(MedtorchError):
    """The input breaks the run's data specification (``EXIT_BAD_INPUT``, as every ``MedtorchError``)."""


@dataclass
class PredictionSummary:
    run_id: str
    input: str
    input_sha256: str
    output: Optional[str]
    rejected_output: Optional[str]
    on_invalid: str
    rows: int
    predicted: int
    rejected: int
    violations: int
    spec_sha256: str
    stack_fingerprint: str
    seconds: float
    violations_by_rule: dict[str, int] = field(default_factory=dict)


class _Tally:
    """Violations seen so far: a count per column and rule, the first few kept for the message."""

    def __init__(self, max_listed: int, sink) -> None:
        self.total, self.rows, self.listed, self.by_rule = 0, 0, [], Counter()
        self.max_listed, self.sink = max_listed, sink

    def add(self, violations: list[Violation], bad_rows: int) -> None:
        self.total += len(violations)
        self.rows += bad_rows
        room = self.max_listed - len(self.listed)
        if room > 0:
            self.listed.extend(violations[:room])
        self.by_rule.update(f"{v.column}: {v.rule}" for v in violations)
        if self.sink is not None and violations:
            pd.DataFrame([asdict(v) for v in violations]).to_csv(self.sink, header=False, index=False)

    def message(self, head: str, advice: str, listing_file: Optional[Path]) -> str:
        lines = [head, "         row | column | value | rule", *(v.line() for v in self.listed)]
        if self.total > len(self.listed):
            more = f"... and {self.total - len(self.listed)} more"
            lines.append(more + (f" (all are in {listing_file})" if listing_file else "; pass --violations FILE for the full list"))
        lines.append("by column and rule: " + "; ".join(f"{k} x{n}" for k, n in self.by_rule.most_common()))
        lines.append(advice)
        return "\n".join(lines)


def predict_file(run_dir: str | Path, input_path: str | Path, output: str | Path, on_invalid: str = "refuse",
                 rejected_path: Optional[str | Path] = None, violations_path: Optional[str | Path] = None,
                 chunk_rows: int = 100_000, max_listed: int = 1000,
                 load_options: Optional[dict] = None) -> PredictionSummary:
    from medtorch.deploy.block import require_unblocked
    from medtorch.deploy.fingerprint import stack_fingerprint
    from medtorch.deploy.reading import refuse_overwriting_input
    from medtorch.deploy.spec import read_run_spec
    from medtorch.evidence import Run
    from medtorch.hashing import sha256_file
    from medtorch.run import atomic_path
    from medtorch.stack.gate import require_bridged_stack

    if on_invalid not in ON_INVALID:
        raise MedtorchError(f"--on-invalid must be one of {ON_INVALID}; got {on_invalid!r}.")
    t0 = time.perf_counter()
    input_path, output = Path(input_path), Path(output)
    run = require_bridged_stack(run_dir, "predict", **(load_options or {}))
    rd = run.rd
    spec, spec_sha = read_run_spec(rd, run.manifest)
    require_unblocked(rd)
    checker = SpecChecker(spec)
    fp, _ = stack_fingerprint(run)  # the stack the network was put on: the verb's dtype, threads, device
    run_id = run.manifest["run_id"]
    id_col = run.config.get("data", {}).get("id_column")
    text_cols = [c.name for c in spec.columns if not c.numeric]
    defaulted = frozenset({"rejected"}) if on_invalid == "quarantine" and not rejected_path else frozenset()
    if on_invalid == "quarantine":
        rejected_path = Path(rejected_path) if rejected_path else output.with_name(output.stem + ".rejected.csv")
    else:
        rejected_path = None  # refuse: there are no rejected rows to write
    refuse_overwriting_input(input_path, defaulted, output=output, rejected=rejected_path, violations=violations_path)
    log = Run.open(rd.root)  # the outputs lie outside the run: the events record their paths and hashes
    # the input's hash, read beside the stream (hashlib leaves the GIL while it hashes): 0.1-0.2 s of a
    # 1,000,000-row file that the end of the command no longer waits for
    from concurrent.futures import ThreadPoolExecutor

    hasher = ThreadPoolExecutor(1, thread_name_prefix="medtorch-input-sha256")
    input_sha256 = hasher.submit(sha256_file, input_path)
    hasher.shutdown(wait=False)  # no more work for it; the hash already submitted runs to its end
    ctx = dict(out_sha256=hashlib.sha256(), run=run, checker=checker, spec=spec, spec_sha=spec_sha, fp=fp, id_col=id_col, text_cols=text_cols,
               input_path=input_path, on_invalid=on_invalid, chunk_rows=chunk_rows, violations_path=violations_path)
    refusal = None
    switch = sys.getswitchinterval()
    # The read-ahead and writer threads run Python (pandas, the checks) between the network's batches. At
    # CPython's default switch interval (5 ms) the thread that runs the network, whose every torch call
    # releases and retakes the GIL, can wait up to 5 ms each time it retakes it; at 0.1 ms it waits less
    # (1,000,000 rows, 8 runs each, alternating: median 2.75 s against 2.88 s). Put back when done.
    tally = _Tally(max_listed, None)
    try:
        with ExitStack() as vstack:
            sink = None
            if violations_path is not None:  # kept when the input is refused: it is the full listing
                sink = vstack.enter_context(open(vstack.enter_context(atomic_path(violations_path)), "w", encoding="utf-8", newline=""))
                sink.write("column,row,value,rule\n")
            tally = _Tally(max_listed, sink)
            try:
                with ExitStack() as stack:  # outputs: renamed into place only if the whole input was processed
                    out_f = stack.enter_context(open(stack.enter_context(atomic_path(output)), "wb"))
                    rej_f = None
                    if rejected_path is not None:
                        rej_f = stack.enter_context(open(stack.enter_context(atomic_path(rejected_path)), "w", encoding="utf-8", newline=""))
                    sys.setswitchinterval(min(switch, 1e-4))
                    try:
                        n_rows, n_pred, n_rej = _stream(ctx, tally, out_f, rej_f)
                    finally:
                        sys.setswitchinterval(switch)
            except SpecViolationError as e:  # rows that break the specification: their listing (--violations) is kept
                refusal = e
    except MedtorchError as e:  # the file itself refused (missing, empty, not a CSV, ...): no listing is kept
        refusal = e
    if refusal is not None:
        details = {"input": str(input_path.resolve()), "violations": tally.total, "rows_with_violations": tally.rows,
                   "by_rule": dict(tally.by_rule)}
        if not isinstance(refusal, SpecViolationError):
            details["reason"] = str(refusal).splitlines()[0]
        try:
            read = {str(input_path.resolve()): input_sha256.result()}
        except OSError:  # no file to hash (missing, or a directory): the reason says so
            read = {}
        log.event("prediction_refused", details, inputs={**read, rd.data_spec.name: spec_sha})
        raise refusal
    summary = PredictionSummary(
        run_id=run_id, input=str(input_path.resolve()), input_sha256=input_sha256.result(), output=str(output.resolve()),
        rejected_output=str(Path(rejected_path).resolve()) if rejected_path else None, on_invalid=on_invalid,
        rows=n_rows, predicted=n_pred, rejected=n_rej, violations=tally.total, spec_sha256=spec_sha,
        stack_fingerprint=fp, seconds=round(time.perf_counter() - t0, 3), violations_by_rule=dict(tally.by_rule))
    outputs = {summary.output: ctx["out_sha256"].hexdigest()}  # of every byte written, hashed as it was written
    if rejected_path:
        outputs[summary.rejected_output] = sha256_file(rejected_path)
    log.event("predicted", {k: v for k, v in asdict(summary).items() if k not in ("input_sha256",)},
              inputs={summary.input: summary.input_sha256, rd.data_spec.name: spec_sha}, outputs=outputs)
    return summary


def _checked(ctx: dict[str, Any]):
    """(chunk, structural problems, typed, valid, violations, preprocessed valid rows) for each chunk of the input.

    Runs in the read-ahead thread: reading, checking and preprocessing, no torch.
    """
    from medtorch.deploy.reading import read_chunks

    run, checker, spec = ctx["run"], ctx["checker"], ctx["spec"]
    numeric = [c.name for c in spec.columns if c.numeric]
    n_rows = 0
    for k, chunk in enumerate(read_chunks(ctx["input_path"], ctx["text_cols"], ctx["chunk_rows"], numeric)):
        structural = checker.check_columns(list(chunk.columns)) if k == 0 else []
        if structural:
            yield chunk, structural, None, None, None, None
            return
        typed, valid, violations = checker.check_rows(chunk, first_row=n_rows + 1)
        n_rows += len(chunk)
        x = None
        if valid.any() and not (ctx["on_invalid"] == "refuse" and violations):
            x = run.preprocessor.transform(typed if valid.all() else typed.loc[valid])
        yield chunk, structural, typed, valid, violations, x


def _stream(ctx: dict[str, Any], tally: _Tally, out_f, rej_f) -> tuple[int, int, int]:
    """Check and predict chunk by chunk; return (rows, predicted, rejected). Raises SpecViolationError to refuse.

    Three stages overlap: the next chunk is read, checked and preprocessed (read-ahead thread)
    and the previous one written (writer thread; pyarrow and torch release the GIL) while the
    network computes this one. Chunks are written in order, at most two waiting.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="medtorch-write") as writer:  # one worker: in order
        pending: deque = deque()

        def write(table, header: bool) -> None:
            pending.append(writer.submit(_write_csv, table, out_f, header, ctx["out_sha256"]))
            _drain(pending, 2)

        counts = _chunks(ctx, tally, rej_f, write)  # on an error the executor still waits for its writes
        _drain(pending, 0)
    if counts[1] == 0:
        data = (",".join(_columns(ctx["id_col"], ctx["run"].classes)) + "\n").encode("utf-8")
        ctx["out_sha256"].update(data)
        out_f.write(data)
    return counts


def _drain(pending: deque, keep: int) -> None:
    """Wait for written chunks (raising a write error here) until at most ``keep`` are pending."""
    while len(pending) > keep:
        pending.popleft().result()


def _chunks(ctx: dict[str, Any], tally: _Tally, rej_f, write) -> tuple[int, int, int]:
    from medtorch.deploy.ahead import ahead

    run, spec, spec_sha, fp, id_col = (ctx[k] for k in ("run", "spec", "spec_sha", "fp", "id_col"))
    input_path, on_invalid, listing = ctx["input_path"], ctx["on_invalid"], ctx["violations_path"]
    run_id, spec_name = run.manifest["run_id"], run.rd.data_spec.name
    n_rows = n_rej = 0
    batches = Batches(run, lambda r, ids, probs, header: write(
        _table(r, ids, id_col, probs, run.classes, run_id, spec_sha, fp), header))
    for chunk, structural, typed, valid, violations, x in ahead(_checked(ctx)):
        if structural:
            tally.add(structural, 0)
            raise SpecViolationError(tally.message(
                f"{input_path} does not have the columns of run {run_id}'s data specification "
                f"({spec_name} sha256 {spec_sha[:16]}...); no row can be checked and no output was written:",
                "Rename or add the required columns and remove unknown ones (columns the run knows as label, id, "
                f"time or subgroup are accepted: {spec.known_columns}).", listing))
        tally.add(violations, int((~valid).sum()))
        rows = np.arange(n_rows + 1, n_rows + 1 + len(chunk))
        n_rows += len(chunk)
        if on_invalid == "refuse" and tally.total:
            continue  # keep checking, to list every violation; predict nothing
        if valid.any():
            everything = bool(valid.all())
            ids = None
            if id_col and id_col in chunk.columns:
                ids = (chunk[id_col] if everything else chunk.loc[valid, id_col]).to_numpy()
            batches.add(rows[valid], ids, x)  # x: the valid rows, preprocessed as fitted
        if rej_f is not None and (~valid).any():
            _rejected(rows, chunk, valid, violations).to_csv(rej_f, header=n_rej == 0, index=False)
            n_rej += int((~valid).sum())
    if on_invalid == "refuse" and tally.total:
        raise SpecViolationError(tally.message(
            f"{input_path} violates run {run_id}'s data specification ({spec_name} sha256 {spec_sha[:16]}...): "
            f"{tally.total} violation(s) in {tally.rows} of {n_rows} row(s); no output was written:",
            "Correct these rows, or pass --on-invalid quarantine to predict the valid rows and set the others "
            "aside with their reasons.", listing))
    batches.flush()
    if rej_f is not None and n_rej == 0:
        pd.DataFrame(columns=["row", "reasons"]).to_csv(rej_f, index=False)
    return n_rows, batches.predicted, n_rej


# Some CPU kernels round a batch differently with its address modulo the SIMD width (measured: modulo 16 bytes with
# AVX2). 16 rows of any width are a whole number of 64 bytes in float32 and in float64, so a batch placed at its row
# number modulo 16 in a fresh (64-byte aligned) buffer lies where it would in one matrix of all the valid rows.
ALIGN_ROWS = 16


class Batches:
    """The valid rows on their way to the network, in batches of the run's ``trainer.eval_batch_size`` counted over
    the valid rows of the whole input, wherever a chunk (``--chunk-rows``) ends.

    A row's probabilities can differ in their last bits with the batch it is computed in and with where that batch
    lies in memory, so neither may depend on the chunking: any ``--chunk-rows`` then gives the same bytes, and predict
    on the bridge rows runs the batches the bridge certified. Rows short of a batch wait for the next chunk (fewer
    than one batch is held). ``emit(rows, ids, probs, header)`` gets the results in input order.
    """

    def __init__(self, run, emit) -> None:
        self.run, self.emit = run, emit
        self.held: list[tuple[np.ndarray, Optional[np.ndarray], np.ndarray]] = []  # (row numbers, ids, x)
        self.waiting = self.predicted = 0

    def add(self, rows: np.ndarray, ids: Optional[np.ndarray], x: np.ndarray) -> None:
        self.held.append((rows, ids, x))
        self.waiting += len(rows)
        self._run(self.waiting - self.waiting % self.run.eval_batch_size)

    def flush(self) -> None:
        """The rows still waiting (the input's last, short batch)."""
        self._run(self.waiting)

    def _run(self, ready: int) -> None:
        """Predict the first ``ready`` waiting rows (whole batches, or all of them at the end); keep the rest."""
        import torch

        from medtorch.models.inference import infer

        if ready == 0:
            return
        param = next(self.run.network.parameters())
        pad = self.predicted % ALIGN_ROWS  # self.predicted: the valid rows before the first one held
        buf = torch.empty((pad + ready, self.held[0][2].shape[1]), dtype=param.dtype, device=param.device)
        at = pad
        for _, _, x in self.held:
            part = torch.as_tensor(x[:pad + ready - at])
            buf[at:at + len(part)] = part
            at += len(part)
        probs = infer(self.run.network, buf[pad:], self.run.eval_batch_size)
        start, kept = 0, []
        for rows, ids, x in self.held:
            take = max(0, min(len(rows), ready - start))
            if take:
                self.emit(rows[:take], None if ids is None else ids[:take], probs[start:start + take],
                          self.predicted == 0)
                self.predicted += take
            if take < len(rows):
                kept.append((rows[take:], None if ids is None else ids[take:], x[take:]))
            start += len(rows)
        self.held, self.waiting = kept, self.waiting - ready


def _write_csv(table, f, header: bool, digest) -> None:
    """Append a chunk (a ``pyarrow.Table``) to a binary file as CSV, in one call (pyarrow's writer: ~10x faster
    than pandas' for floats, and it writes each float64 in the fewest digits that read back to the same bits);
    ``digest`` (sha256) takes the same bytes, so the output is not read back to be hashed."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    buf = pa.BufferOutputStream()
    pacsv.write_csv(table, buf, write_options=pacsv.WriteOptions(include_header=header, quoting_style="needed"))
    data = buf.getvalue()
    digest.update(data)
    f.write(data)


def _columns(id_col: Optional[str], classes: list[str]) -> list[str]:
    return ["row", *([id_col] if id_col else []), *(f"prob_{c}" for c in classes),
            "predicted_class", "run_id", "spec_sha256", "stack_fingerprint"]


def _table(rows, ids, id_col, probs, classes, run_id, spec_sha, fp):
    """The output columns as a ``pyarrow.Table``: text columns are taken from a few strings in C++, not built
    as a Python object per row."""
    import pyarrow as pa

    n = len(rows)
    out: dict[str, Any] = {"row": pa.array(rows)}
    if ids is not None:
        out[id_col] = pa.array(ids, from_pandas=True)
    for j, c in enumerate(classes):
        out[f"prob_{c}"] = pa.array(probs[:, j])
    out["predicted_class"] = pa.array(list(classes), pa.string()).take(pa.array(probs.argmax(axis=1)))
    zeros = pa.array(np.zeros(n, dtype=np.int64))
    for name, value in (("run_id", run_id), ("spec_sha256", spec_sha), ("stack_fingerprint", fp)):
        out[name] = pa.array([value], pa.string()).take(zeros)
    return pa.table(out)


def _rejected(rows, chunk: pd.DataFrame, valid: np.ndarray, violations: list[Violation]) -> pd.DataFrame:
    reasons: dict[int, list[str]] = {}
    for v in violations:
        reasons.setdefault(v.row, []).append(f"{v.column}: {v.rule} (got {v.value})")
    bad = ~valid
    table = chunk.loc[bad].copy()
    table.insert(0, "row", rows[bad])
    table.insert(1, "reasons", ["; ".join(reasons.get(int(r), ["row-level rule"])) for r in rows[bad]])
    return table
