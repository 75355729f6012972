"""Errors a user can act on; the CLI prints their message without a traceback."""


class UserError(Exception):
    """Bad input: an unknown name, an ill-typed parameter, a missing or corrupt file."""


class DataNotPrepared(UserError):
    """A data set was loaded before `wsbench prepare` wrote it."""


class ProtocolViolation(Exception):
    """A method broke the harness's contract (read held-out labels, returned malformed
    predictions): its run ends `failed` with this message, never `ok`."""


class Notice(UserWarning):
    """Something a user should know that stops nothing (a skipped file, a duplicate record);
    the CLI prints it as one line, `wsbench: warning: ...`."""
