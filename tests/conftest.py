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
def label_studio_login() -> dict:
    """The admin login of the `label_studio` server."""
    import secrets

    return {"username": "annotator@vipie.local", "password": secrets.token_urlsafe(16), "token": secrets.token_hex(20)}


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory, label_studio_login):
    """One real Label Studio (.venv-ls) on 127.0.0.1 for the whole session, its sqlite store in a temporary
    folder: a fresh store migrates for a minute or more, so the annotation test modules share it (each makes
    its own projects)."""
    from pipeline.annotate.server import start_label_studio
    from tests.annotate_helpers import label_studio_executable

    server = start_label_studio(label_studio_executable(), tmp_path_factory.mktemp("label-studio"),
                                **label_studio_login)
    print(f"\nLabel Studio ready on {server.url} in {server.started_in:.1f} s (fresh sqlite store, migrations)")
    yield server
    server.stop()
    assert server.process.poll() is not None, "the Label Studio server is still running"


@pytest.fixture(scope="session")
def recognizer():
    from pipeline.provinces import default_resolver
    from pipeline.recognize.rules import RuleRecognizer

    return RuleRecognizer(default_resolver())


def spans(recognizer, text: str, label: str | None = None) -> list[tuple[str, str]]:
    """(label, text) of what the rule recognizer finds in `text`."""
    found = recognizer.find(text)
    return [(c.label, text[c.start : c.end]) for c in found if label is None or c.label == label]
