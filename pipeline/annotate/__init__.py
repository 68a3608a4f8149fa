"""The annotators' loop through Label Studio: labeling config, tasks with predictions, gold import, agreement.

    config.py   the labeling config (XML), generated from pipeline.labels
    tasks.py    pipeline output -> Label Studio tasks with predictions
    gold.py     a Label Studio JSON export -> gold documents (CONTRACT.md), strictly validated
    agree.py    inter-annotator agreement between two exports or gold files
    server.py   start and drive a local Label Studio server over REST (tests, scripts/label_studio.py)

Nothing here imports Label Studio: it runs in its own virtual environment
(`make label-studio`), because its pins clash with ours, and is reached over HTTP.
"""

from pipeline.errors import VipieError


class AnnotationError(VipieError):
    """An export or gold file that breaks the guidelines; `problems` holds one line per problem.

    The message is the first problem (and how many more there are); the CLI prints every problem.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        super().__init__((self.problems[0] if self.problems else "invalid annotations") + more)
