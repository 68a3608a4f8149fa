import unicodedata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO.parent / "shared" / "seeds"
CHECK_CONTRACT = REPO.parent / "shared" / "tools" / "check_contract.py"


@pytest.fixture(scope="session")
def nlp():
    import pipeline

    return pipeline.load()


@pytest.fixture(scope="session")
def seed_paths() -> list[Path]:
    paths = sorted(SEEDS.glob("*.txt"))
    assert len(paths) == 5, f"the five seed articles are expected in {SEEDS}"
    return paths


@pytest.fixture(scope="session")
def seed_docs(nlp, seed_paths):
    import pipeline

    texts = [unicodedata.normalize("NFC", p.read_text(encoding="utf-8")) for p in seed_paths]
    return [pipeline.process(nlp, text) for text in texts]


@pytest.fixture(scope="session")
def recognizer():
    from pipeline.provinces import default_resolver
    from pipeline.recognize.rules import RuleRecognizer

    return RuleRecognizer(default_resolver())


def spans(recognizer, text: str, label: str | None = None) -> list[tuple[str, str]]:
    """(label, text) of what the rule recognizer finds in `text`."""
    found = recognizer.find(text)
    return [(c.label, text[c.start : c.end]) for c in found if label is None or c.label == label]
