"""The one exception type users see.

Every problem caused by the user's input (a config key, a file, a column, a value) is raised
as a ``MedtorchError`` whose message says what is wrong, where, what was expected, what was
found, and how to fix it. Entry points print the message alone (no traceback) and exit 2.
"""


# Exit codes, the same for train.py and every medtorch verb, so a scheduler can tell them apart.
EXIT_OK = 0
EXIT_CRITERIA_FAILED = 1  # an a-priori acceptance criterion failed (evaluate, train.py evaluation.test_look)
EXIT_BAD_INPUT = 2  # config, file, column, value
EXIT_INTEGRITY = 3  # an artefact or the event log was changed after it was written
EXIT_LEAKAGE = 4  # a leakage check failed (train.py stops before training)
EXIT_DEGRADED = 5  # monitoring: performance below the monitoring plan's thresholds
EXIT_BLOCKED = 6  # predictions are blocked by a monitoring breach until reviewed
EXIT_BRIDGE_FAILED = 7  # the bridge re-evaluation failed on this stack
EXIT_NOT_INDEPENDENT = 8  # new test data overlaps the development data
EXIT_DRIFT = 9  # monitoring: input or prediction drift beyond the plan's thresholds


class MedtorchError(Exception):
    """A problem with the user's input or a run directory, explained in one message."""

    exit_code = EXIT_BAD_INPUT


class IntegrityError(MedtorchError):
    """An artefact of a run differs from what the run recorded (tampered or corrupt)."""

    exit_code = EXIT_INTEGRITY
