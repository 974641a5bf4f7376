"""Errors that are the user's to fix."""


class UserError(Exception):
    """A mistake in the user's input (file, flag, field): printed as one `error:` line, no traceback."""


class MissingToolError(UserError, FileNotFoundError):
    """A tool or build output the command needs is not there (`make setup`, `make mpy`): also a FileNotFoundError,
    so callers that handle missing files keep working."""
