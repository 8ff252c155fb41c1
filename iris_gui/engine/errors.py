"""Exceptions the engine raises for bad input, so callers can show one clear line."""


class InputError(Exception):
    """Bad input: a file, key or value that cannot be used. The message names it."""


class ParameterError(InputError):
    """A parameter file, override or value that does not fit a step's declaration."""


class Cancelled(Exception):
    """The run was cancelled through its CancelToken."""
