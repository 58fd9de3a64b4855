"""The one exception type users see.

Every problem caused by the user's input (a config key, a file, a column, a value) is raised
as a ``MedtorchError`` whose message says what is wrong, where, what was expected, what was
found, and how to fix it. Entry points print the message alone (no traceback) and exit 2.
"""


class MedtorchError(Exception):
    """A problem with the user's input or a run directory, explained in one message."""

    exit_code = 2


class IntegrityError(MedtorchError):
    """An artefact of a run differs from what the run recorded (tampered or corrupt)."""

    exit_code = 3
