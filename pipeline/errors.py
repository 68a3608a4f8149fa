"""One exception hierarchy. A `VipieError` message is shown to users as one line."""


class VipieError(Exception):
    """Base class: the run cannot proceed; the message says what, where and what to do."""


class InputError(VipieError):
    """An input path or file cannot be read at all (a single bad document is not an error)."""


class ModelError(VipieError):
    """A model folder is missing or not a vipie model."""


class OutputError(VipieError):
    """The output cannot be written."""


class Interrupted(VipieError):
    """SIGINT or SIGTERM stopped a run after its finished documents were written; `--resume` completes it.

    `exit_status` is the shell's convention for a signal: 128 + its number (130, 143).
    """

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_status = 128 + signum


class AnnotationError(VipieError):
    """An export or gold file that breaks the guidelines; `problems` holds one line per problem.

    The message is the first problem (and how many more there are); the CLI prints every problem.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        super().__init__((self.problems[0] if self.problems else "invalid annotations") + more)


class LabelStudioError(VipieError):
    """The local Label Studio server did not start or refused a request."""
