"""Errors a user can act on; the CLI prints their message without a traceback."""


class UserError(Exception):
    """Bad input: an unknown name, an ill-typed parameter, a missing or corrupt file."""


class DataNotPrepared(UserError):
    """A data set was loaded before `wsbench prepare` wrote it."""
