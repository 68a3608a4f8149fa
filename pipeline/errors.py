"""One exception hierarchy. A `VipieError` message is shown to users as one line."""


class VipieError(Exception):
    """Base class: the run cannot proceed; the message says what, where and what to do."""


class InputError(VipieError):
    """An input path or file cannot be read at all (a single bad document is not an error)."""


class ModelError(VipieError):
    """A model folder is missing or not a vipie model."""


class OutputError(VipieError):
    """The output cannot be written."""
