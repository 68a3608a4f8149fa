"""DVC on a fresh clone: the committed lock matches the committed code, and `dvc repro` of the real pipeline runs
offline, with a truthful status, readable metrics, plots rendered offline and minimal re-runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def run(args, cwd, env):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def set_param(clone: Path, key: str, value) -> None:
    params = clone / "params.yaml"
    lines = params.read_text(encoding="utf-8").splitlines()
    params.write_text("\n".join(f"  {key}: {value}" if line.strip().startswith(f"{key}:") else line
                                for line in lines) + "\n", encoding="utf-8")


def fresh_clone(tmp_path: Path) -> tuple[Path, dict, list[str]]:
    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return clone, env, [str(Path(sys.executable).parent / "dvc")]


def stage_changes(status: dict, produced: set[str]) -> list[str]:
    """What `dvc status --json` of a fresh clone says beyond the absence of the cache: a dependency that is not
    another stage's output and differs from the lock (code changed since the lock), a changed command or
    parameters, or an output that differs (rather than being absent from the cache)."""
    found = []
    for stage, entries in status.items():
        for entry in entries:
            if not isinstance(entry, dict):
                found.append(f"{stage}: {entry}")
                continue
            for path, state in entry.get("changed deps", {}).items():
                if not (state == "deleted" and path in produced):
                    found.append(f"{stage}: dependency {path} {state}")
            for path, state in entry.get("changed outs", {}).items():
                if state not in ("not in cache", "deleted"):
                    found.append(f"{stage}: output {path} {state}")
            found += [f"{stage}: {key}" for key in entry if key not in ("changed deps", "changed outs")]
    return found


def test_a_fresh_clone_has_no_changed_stage(tmp_path):
    import yaml

    clone, env, dvc = fresh_clone(tmp_path)
    stages = yaml.safe_load((clone / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    produced = {next(iter(out)) if isinstance(out, dict) else out
                for stage in stages.values() for key in ("outs", "metrics", "plots") for out in stage.get(key, [])}
    status = json.loads(run(dvc + ["status", "--json"], clone, env).strip().splitlines()[-1])
    assert stage_changes(status, produced) == [], "dvc.lock does not match the committed code: run `make repro` " \
                                                  "and commit dvc.lock"


def test_stage_changes_tells_a_missing_cache_from_a_change():
    produced = {"data/dataset", "models/trained"}
    missing = {"train": [{"changed deps": {"data/dataset": "deleted"}},
                         {"changed outs": {"models/trained": "not in cache"}}]}
    assert stage_changes(missing, produced) == []
    edited = {"train": [{"changed deps": {"pipeline/train.py": "modified"}}, "changed command"]}
    assert stage_changes(edited, produced) == ["train: dependency pipeline/train.py modified", "train: changed command"]


def test_dvc_repro_status_and_param_change(tmp_path):
    clone, env, dvc = fresh_clone(tmp_path)
    set_param(clone, "max_iterations", '"5"')

    run(dvc + ["repro"], clone, env)
    metrics = json.loads((clone / "metrics" / "evaluate.json").read_text(encoding="utf-8"))
    # A few readable figures per gold; the whole report is in reports/.
    assert metrics["documents"] == 5 and 0 < metrics["entity_micro_f1"] <= 1 and len(metrics) <= 10
    splits = json.loads((clone / "annotations" / "splits.json").read_text(encoding="utf-8"))
    for split in ("dev", "test_writer", "test_fresh"):
        held_out = json.loads((clone / "metrics" / f"evaluate_{split}.json").read_text(encoding="utf-8"))
        assert held_out["documents"] == len(splits[split]) > 0 and held_out["indicator_span_token_f1"] > 0
        report = json.loads((clone / "reports" / f"evaluate_{split}.json").read_text(encoding="utf-8"))
        assert report["facts"]["indicator_span"]["facts"] > 0
    for gold in sorted((clone / "annotations" / "blind").glob("writer_*.jsonl")):
        writer = gold.stem.removeprefix("writer_")
        blind = json.loads((clone / "metrics" / f"evaluate_blind_{writer}.json").read_text(encoding="utf-8"))
        blind_gold = gold.read_text(encoding="utf-8")
        assert blind["documents"] == len(blind_gold.splitlines()) > 0 and blind["fact_f1"] > 0
    train = json.loads((clone / "metrics" / "train.json").read_text(encoding="utf-8"))
    assert train["dev_linker_year"] > 0 and {"chosen_c1", "chosen_c2", "dev_ner_f1"} <= set(train)
    card = json.loads((clone / "models" / "trained" / "card.json").read_text(encoding="utf-8"))
    assert card["fit_on"] == "train+dev" and card["metrics"]["linker"]["dev_oracle_fit_on"] == "train"
    assert (clone / "plots" / "evaluate" / "confusion.json").is_file()
    page = (clone / "plots" / "evaluate.html").read_text(encoding="utf-8")
    assert "<script src=" not in page and "Plotly.newPlot" in page
    assert "up to date" in run(dvc + ["status"], clone, env)
    # The same inputs give the same outputs: run again, the stages whose outputs could drift (a model card's
    # timings, a plot's random div id, a DuckDB file's bytes) leave the lock as it was.
    lock = (clone / "dvc.lock").read_text(encoding="utf-8")
    run(dvc + ["repro", "--force", "--single-item", "train", "plots", "extract"], clone, env)
    assert (clone / "dvc.lock").read_text(encoding="utf-8") == lock

    set_param(clone, "c2", 0.02)
    output = run(dvc + ["repro"], clone, env)
    assert "Stage 'prepare' didn't change, skipping" in output
    for stage in ("train", "evaluate", "extract"):
        assert f"Running stage '{stage}'" in output
    assert "up to date" in run(dvc + ["status"], clone, env)
