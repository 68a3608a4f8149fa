import json

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.cli import model as _model  # noqa: F401  (registers `vipie model`)
from pipeline.errors import ModelError
from pipeline.model import build_pipeline
from pipeline.train import read_examples, train_crf
from tests.test_crf import toy_gold

pytestmark = pytest.mark.slow


def test_promote_copies_a_better_model_and_refuses_a_worse_one(tmp_path):
    gold = toy_gold(tmp_path)
    examples = read_examples([gold], {}, [])
    train_crf(examples, [], tmp_path / "crf", 0.05, 0.01, 50, None, {})
    build_pipeline("rules").to_disk(tmp_path / "rules", exclude=["vocab"])
    default = tmp_path / "default"
    runner = CliRunner()

    result = runner.invoke(app, ["model", "promote", str(tmp_path / "crf"), "--gold", str(gold), "--to", str(default)])
    assert result.exit_code == 0, result.output
    card = json.loads((default / "card.json").read_text(encoding="utf-8"))
    assert card["backend"] == "crf" and card["promoted_from"].endswith("crf")

    worse = runner.invoke(app, ["model", "promote", str(tmp_path / "rules"), "--gold", str(gold), "--to", str(default)])
    assert isinstance(worse.exception, ModelError) and "not promoted" in str(worse.exception)
    assert json.loads((default / "card.json").read_text(encoding="utf-8"))["backend"] == "crf"

    forced = runner.invoke(app, ["model", "promote", str(tmp_path / "rules"), "--gold", str(gold), "--to", str(default),
                                 "--force"])
    assert forced.exit_code == 0 and (default / "config.cfg").read_text().count("vipie_crf_recognizer") == 0


def test_a_default_that_can_no_longer_be_loaded_is_replaced(tmp_path):
    gold = toy_gold(tmp_path)
    train_crf(read_examples([gold], {}, []), [], tmp_path / "crf", 0.05, 0.01, 50, None, {})
    default = tmp_path / "default"
    train_crf(read_examples([gold], {}, []), [], default, 0.05, 0.01, 20, None, {"seed": 1})
    (default / "vipie_crf_recognizer" / "crf.model").write_bytes(b"truncated")
    result = CliRunner().invoke(app, ["model", "promote", str(tmp_path / "crf"), "--gold", str(gold), "--to", str(default)])
    assert result.exit_code == 0, result.output
    assert "current default unusable" in result.output
    assert json.loads((default / "card.json").read_text(encoding="utf-8"))["backend"] == "crf"
