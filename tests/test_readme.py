"""Every fenced ```bash, ```sh and ```python block of README.md runs as written on a fresh copy after `make run`.

The copy holds the files git would clone (tracked and not ignored, as they are in the working tree), the venv
as `.venv` and `../shared` beside it, as on a fresh machine after `make run`. Blocks run in README order in one
shell each (bash -e, pipefail), without the venv on PATH: write `.venv/bin/vipie`, not `vipie`. A block whose
fence is preceded by `<!-- readme-test: skip (reason) -->` is skipped with that reason (GPU, network, minutes
of training, a server): `pytest -rs tests/test_readme.py` lists them.
"""

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

FENCE = re.compile(r"^(?:<!-- readme-test: skip \((?P<reason>[^)]*)\) -->\n)?```(?P<lang>bash|sh|python)\n"
                   r"(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
# What `make run` leaves, besides the venv: the test runs its recipe (the venv itself is never rebuilt here).
MAKE_RUN = ["make", "-o", ".venv/.installed", "run"]


def readme_blocks(text: str) -> list[dict]:
    """The fenced code blocks of a README: language, code, the line its fence opens on, the skip reason if any."""
    return [{"lang": m["lang"], "code": m["code"], "line": text.count("\n", 0, m.start("lang")) + 1,
             "skip": m["reason"]} for m in FENCE.finditer(text)]


BLOCKS = readme_blocks((REPO / "README.md").read_text(encoding="utf-8"))


def test_blocks_are_found_with_their_skip_reasons():
    text = ("a\n```bash\necho 1\n```\n<!-- readme-test: skip (needs a GPU) -->\n```python\nimport torch\n```\n"
            "```text\nx\n```\n")
    blocks = readme_blocks(text)
    assert [(b["lang"], b["code"], b["line"], b["skip"]) for b in blocks] == [
        ("bash", "echo 1\n", 2, None), ("python", "import torch\n", 6, "needs a GPU")]


def project_files() -> list[str]:
    """The paths a clone of the working tree would hold: tracked files that still exist, and untracked ones git
    does not ignore (what is being committed)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [path for path in listed if path and (REPO / path).is_file() and not (REPO / path).is_symlink()]


@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory):
    """A copy of the project after `make run`, and the environment its commands run in."""
    root = tmp_path_factory.mktemp("readme")
    copy = root / "vipie"
    for path in project_files():
        target = copy / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO / path).read_bytes())
    (copy / ".venv").symlink_to(sys.prefix)
    (root / "shared").symlink_to((REPO.parent / "shared").resolve())
    # The venv's own install of the package may point at another checkout: the copy's package comes first.
    env = {**os.environ, "PYTHONPATH": str(copy), "PATH": os.defpath}
    result = subprocess.run(MAKE_RUN, cwd=copy, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return copy, env


@pytest.mark.parametrize("block", [
    pytest.param(block, id=f"line{block['line']}",
                 marks=[pytest.mark.skip(reason=block["skip"])] if block["skip"] else [])
    for block in BLOCKS])
def test_readme_block_runs_as_written(fresh_copy, block):
    copy, env = fresh_copy
    command = (["bash", "-e", "-o", "pipefail", "-c", block["code"]] if block["lang"] != "python"
               else [str(copy / ".venv" / "bin" / "python"), "-c", block["code"]])
    result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"README.md line {block['line']}:\n{block['code']}\n{result.stdout}{result.stderr}"
