import json

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.cli import model as _model  # noqa: F401  (registers `vipie model`)
from pipeline.errors import InputError, ModelError
from pipeline.model import build_pipeline
from pipeline.train import crf_grid, read_examples, train_crf
from tests.test_crf import toy_gold

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A toy gold file, a CRF trained on it, one trained with its agencies and titles mislabelled LOCATION (the CRF
    wins names over the rules, so it is worse than the rules alone) and a rules-only folder."""
    folder = tmp_path_factory.mktemp("promote")
    gold = toy_gold(folder)
    examples = read_examples([gold], {}, [])
    train_crf(examples, [], folder / "crf", crf_grid([0.05], [0.01], [50]), {})
    for example in examples:
        example.tags = [tag.replace("AGENCY", "LOCATION").replace("TITLE", "LOCATION") for tag in example.tags]
    train_crf(examples, [], folder / "weak", crf_grid([0.05], [0.01], [50]), {})
    build_pipeline("rules").to_disk(folder / "rules", exclude=["vocab"])
    return folder, gold


def promote(*args):
    return CliRunner().invoke(app, ["model", "promote", *map(str, args)])


def test_promote_copies_a_better_model_and_refuses_a_worse_one(models, tmp_path):
    folder, gold = models
    default = tmp_path / "default"

    result = promote(folder / "crf", "--gold", gold, "--to", default, "--seeds-gold", gold)
    assert result.exit_code == 0, result.output
    card = json.loads((default / "card.json").read_text(encoding="utf-8"))
    assert card["backend"] == "crf" and card["promoted_from"].endswith("crf") and card["promotion_gold"] == [str(gold)]
    assert card["labels"] == ["AGENCY", "OFFICIAL", "TITLE", "METRIC", "DATE", "LOCATION"]

    worse = promote(folder / "rules", "--gold", gold, "--to", default, "--seeds-gold", gold)
    assert isinstance(worse.exception, ModelError) and "not promoted" in str(worse.exception)
    table = worse.output[worse.output.index("current default → candidate"):]
    # Every label of either model has its row, with the current default's F1 and the candidate's.
    for label in ("AGENCY", "OFFICIAL", "TITLE", "METRIC", "DATE", "LOCATION", "entities micro", "facts"):
        assert label in table
    assert json.loads((default / "card.json").read_text(encoding="utf-8"))["backend"] == "crf"

    forced = promote(folder / "rules", "--gold", gold, "--to", default, "--seeds-gold", gold, "--force")
    assert forced.exit_code == 0 and (default / "config.cfg").read_text().count("vipie_crf_recognizer") == 0


def test_a_candidate_below_the_rules_on_the_seeds_is_said_loudly(models, tmp_path):
    folder, gold = models
    weak = promote(folder / "weak", "--gold", gold, "--to", tmp_path / "default", "--seeds-gold", gold)
    assert weak.exit_code == 0, weak.output
    assert "BELOW RULES ALONE on the seeds" in weak.output
    good = promote(folder / "crf", "--gold", gold, "--to", tmp_path / "default", "--seeds-gold", gold)
    assert "BELOW RULES" not in good.output and "rules alone" in good.output


def test_without_gold_it_decides_on_the_held_out_writer_or_says_how_to_build_it(models, tmp_path, monkeypatch):
    folder, _ = models
    monkeypatch.chdir(tmp_path)
    result = promote(folder / "crf", "--to", tmp_path / "default")
    assert isinstance(result.exception, InputError)
    assert "data/dataset/documents/test_writer.jsonl" in str(result.exception) and "--gold" in str(result.exception)


def test_a_default_that_can_no_longer_be_loaded_is_replaced(models, tmp_path):
    folder, gold = models
    default = tmp_path / "default"
    train_crf(read_examples([gold], {}, []), [], default, crf_grid([0.05], [0.01], [20]), {"seed": 1})
    (default / "vipie_crf_recognizer" / "crf.model").write_bytes(b"truncated")
    result = promote(folder / "crf", "--gold", gold, "--to", default, "--seeds-gold", gold)
    assert result.exit_code == 0, result.output
    assert "current default unusable" in result.output
    assert json.loads((default / "card.json").read_text(encoding="utf-8"))["backend"] == "crf"
