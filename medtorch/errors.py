"""The one exception type users see, and the one table of exit codes.

Every problem caused by the user's input (a config key, a file, a column, a value) is raised
as a ``MedtorchError`` whose message says what is wrong, where, what was expected, what was
found, and how to fix it. Entry points print the message alone (no traceback) and exit with
the error's ``exit_code``.

``EXIT_CODES`` is the single table of exit codes, the same for ``train.py`` and every
``medtorch`` verb, so a scheduler can tell outcomes apart. The README's exit-code table is
``exit_code_table()`` verbatim (``tests/test_integrity_runs.py`` checks it, and checks that the
verbs return the codes listed for them). No other module spells an exit code as a number, in
code or in text (``tests/test_exit_codes.py`` checks both).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExitCode:
    code: int
    name: str
    meaning: str
    returned_by: str  # the commands that return it, as the README lists them


EXIT_CODES: tuple[ExitCode, ...] = (
    ExitCode(0, "EXIT_OK", "success; nothing crossed a threshold", "every command"),
    ExitCode(1, "EXIT_CRITERIA_FAILED", "an a-priori acceptance criterion failed on the governed test look",
             "`medtorch evaluate`, `train.py evaluation.test_look=true`"),
    ExitCode(2, "EXIT_BAD_INPUT", "bad input: config key or value, file, column, value, or a run that is not "
             "complete", "every command"),
    ExitCode(3, "EXIT_INTEGRITY", "an artefact, checkpoint or the event log differs from what the run recorded "
             "(tampered or corrupt)", "every command that reads a run; `medtorch audit verify`"),
    ExitCode(4, "EXIT_LEAKAGE", "a leakage check failed; training stopped before it started", "`train.py`"),
    ExitCode(5, "EXIT_DEGRADED", "monitoring: performance below the monitoring plan's thresholds",
             "`medtorch monitor`"),
    ExitCode(6, "EXIT_BLOCKED", "predictions are blocked by a monitoring breach until reviewed",
             "`medtorch predict`"),
    ExitCode(7, "EXIT_BRIDGE_FAILED", "the bridge re-evaluation failed on this stack",
             "`medtorch bridge`; a verb that loads the model on a new stack whose automatic bridge failed"),
    ExitCode(8, "EXIT_NOT_INDEPENDENT", "new test data overlaps the development data",
             "`medtorch evaluate --test-data`"),
    ExitCode(9, "EXIT_DRIFT", "monitoring: input or prediction drift beyond the plan's thresholds",
             "`medtorch monitor`"),
    ExitCode(10, "EXIT_RUN_NOT_COMPLETE", "the run failed or is still running (its status is shown)",
             "`medtorch show`"),
    ExitCode(11, "EXIT_TRAINING_DIVERGED", "training produced a non-finite loss or weight; the run is marked "
             "failed with the epoch and step", "`train.py`"),
    ExitCode(70, "EXIT_INTERNAL_ERROR", "an error medtorch does not check for: a bug in medtorch or a library, or the "
             "machine (memory, disk space, permissions); the traceback is printed, and a run it stopped is marked "
             "failed", "every command"),
    ExitCode(120, "EXIT_OUTPUT_CLOSED", "the reader of the output closed it early (output piped into head)",
             "every `medtorch` verb"),
    ExitCode(130, "EXIT_INTERRUPTED", "interrupted (Ctrl-C) while training; the run is marked interrupted and "
             "continues with `ckpt_path=last`", "`train.py`"),
)

_BY_NAME = {e.name: e.code for e in EXIT_CODES}
EXIT_OK = _BY_NAME["EXIT_OK"]
EXIT_CRITERIA_FAILED = _BY_NAME["EXIT_CRITERIA_FAILED"]
EXIT_BAD_INPUT = _BY_NAME["EXIT_BAD_INPUT"]
EXIT_INTEGRITY = _BY_NAME["EXIT_INTEGRITY"]
EXIT_LEAKAGE = _BY_NAME["EXIT_LEAKAGE"]
EXIT_DEGRADED = _BY_NAME["EXIT_DEGRADED"]
EXIT_BLOCKED = _BY_NAME["EXIT_BLOCKED"]
EXIT_BRIDGE_FAILED = _BY_NAME["EXIT_BRIDGE_FAILED"]
EXIT_NOT_INDEPENDENT = _BY_NAME["EXIT_NOT_INDEPENDENT"]
EXIT_DRIFT = _BY_NAME["EXIT_DRIFT"]
EXIT_RUN_NOT_COMPLETE = _BY_NAME["EXIT_RUN_NOT_COMPLETE"]
EXIT_TRAINING_DIVERGED = _BY_NAME["EXIT_TRAINING_DIVERGED"]
EXIT_INTERNAL_ERROR = _BY_NAME["EXIT_INTERNAL_ERROR"]
EXIT_OUTPUT_CLOSED = _BY_NAME["EXIT_OUTPUT_CLOSED"]
EXIT_INTERRUPTED = _BY_NAME["EXIT_INTERRUPTED"]


def unexpected_exit(e: BaseException) -> tuple[int, str]:
    """(exit code, one line for after the traceback) for an exception that is not a ``MedtorchError``.

    Lightning's refusal of a configuration (``MisconfigurationException``, e.g. a GPU accelerator on a
    machine without one) is bad input; anything else is ``EXIT_INTERNAL_ERROR``, which a script never
    mistakes for a verdict. Lightning is recognised by name, so this module imports nothing."""
    if any(c.__name__ == "MisconfigurationException" for c in type(e).__mro__):
        return EXIT_BAD_INPUT, "Lightning refused the configuration (the traceback above)."
    return EXIT_INTERNAL_ERROR, ("unexpected error (the traceback above); if it is not the machine (memory, disk "
                                 "space, permissions), please report it with the traceback.")


def report_unexpected(e: BaseException, who: str, after: str = "") -> int:
    """Print the traceback of an exception medtorch does not check for, then one line ``who: ...``;
    return its exit code (``unexpected_exit``). The one place the entry points report a crash."""
    import sys
    import traceback

    traceback.print_exception(type(e), e, e.__traceback__)
    code, text = unexpected_exit(e)
    print(f"{who}: {text}{after}", file=sys.stderr, flush=True)
    return code


def exit_code_table() -> str:
    """The README's exit-code table, generated from ``EXIT_CODES``."""
    rows = ["| code | meaning | returned by |", "| --- | --- | --- |"]
    rows += [f"| {e.code} | {e.meaning} | {e.returned_by} |" for e in EXIT_CODES]
    return "\n".join(rows)


def shown(value: object) -> str:
    """A value as a message quotes it: numpy and pandas scalars as the Python value they hold (``2.5``,
    ``True``), not their repr (``np.float64(2.5)``, ``np.True_``), which means nothing to a reader."""
    kind = type(value)
    if kind.__module__ == "numpy" and hasattr(value, "item") and kind.__name__ not in ("datetime64", "timedelta64"):
        value = value.item()
    return repr(value)


class MedtorchError(Exception):
    """A problem with the user's input or a run directory, explained in one message."""

    exit_code = EXIT_BAD_INPUT


class IntegrityError(MedtorchError):
    """An artefact of a run differs from what the run recorded (tampered or corrupt)."""

    exit_code = EXIT_INTEGRITY


class TrainingDivergedError(MedtorchError):
    """Training produced a non-finite loss or weight (named with the epoch and step)."""

    exit_code = EXIT_TRAINING_DIVERGED


if __name__ == "__main__":  # python -m medtorch.errors prints the README table
    print(exit_code_table())
