"""`dvc repro` of the real pipeline in a temporary clone: offline, truthful status, minimal re-runs."""

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


def test_dvc_repro_status_and_param_change(tmp_path):
    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    dvc = [str(Path(sys.executable).parent / "dvc")]
    set_param(clone, "max_iterations", 5)

    run(dvc + ["repro"], clone, env)
    metrics = json.loads((clone / "metrics" / "evaluate.json").read_text(encoding="utf-8"))
    assert metrics["documents"] == 5 and 0 < metrics["entities"]["micro"]["f1-score"] <= 1
    for split in ("dev", "test_writer"):
        held_out = json.loads((clone / "metrics" / f"evaluate_{split}.json").read_text(encoding="utf-8"))
        assert held_out["documents"] == 44 and held_out["facts"]["indicator_span"]["facts"] > 0
    train = json.loads((clone / "metrics" / "train.json").read_text(encoding="utf-8"))
    assert train["linker"]["mode"] == "learned" and train["linker"]["dev_oracle"]["learned"]["year"] > 0
    assert (clone / "plots" / "evaluate" / "confusion.json").is_file()
    assert "up to date" in run(dvc + ["status"], clone, env)

    set_param(clone, "c2", 0.02)
    output = run(dvc + ["repro"], clone, env)
    assert "Stage 'prepare' didn't change, skipping" in output
    for stage in ("train", "evaluate", "extract"):
        assert f"Running stage '{stage}'" in output
    assert "up to date" in run(dvc + ["status"], clone, env)
