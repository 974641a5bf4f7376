"""Errors that are the user's to fix."""


class UserError(Exception):
    """A mistake in the user's input (file, flag, field): printed as one `error:` line, no traceback."""
