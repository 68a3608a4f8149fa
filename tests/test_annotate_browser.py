"""The annotators' loop as a person meets it: Label Studio in headless Chromium, and the ML backend.

The session's Label Studio (tests/conftest.py) serves a project with `vipie annotate config` and one task
with the pipeline's predictions. A new annotator, made by `vipie annotate add-annotator`, logs in, selects a
METRIC and sees its fact form beside the text, corrects an INDICATOR span by dragging its end, draws a
METRIC again, is refused when submitting it without its value, enters it and submits; the export goes
through `vipie annotate import`, and the gold holds the corrections at their exact offsets. The screenshots
are saved to docs/ (shown in the README). A second test connects `vipie annotate serve-model` to a project and
checks that a task added without predictions gets the backend's.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from pipeline.annotate.config import labeling_config
from pipeline.annotate.server import (
    HOST,
    connect_ml_backend,
    create_project,
    export_project,
    import_tasks,
    retrieve_predictions,
)
from pipeline.annotate.tasks import export_tasks, model_version
from pipeline.provinces import default_resolver
from tests.browser import browser_page  # noqa: F401
from tests.conftest import REPO

VIPIE = str(Path(sys.executable).parent / "vipie")
# The README's screenshots are refreshed only on request (VIPIE_SCREENSHOTS=1), so a test run leaves the
# clone unchanged; otherwise they go to a temporary folder.
DOCS = REPO / "docs" if os.environ.get("VIPIE_SCREENSHOTS") else Path(tempfile.mkdtemp(prefix="vipie-shots-"))
DOCUMENT = {
    "id": "lao-cai-2022", "meta": {"province": "Lào Cai", "published": "2022-06-01"},
    "text": "Lào Cai đẩy mạnh chuyển đổi số\n\nNăm 2022, UBND tỉnh Lào Cai có trên 1.200 hồ sơ trực tuyến mức độ 4. "
            "Tỷ lệ kết nối đạt 70,6% cơ quan nhà nước.\n\nSở Thông tin và Truyền thông tỉnh Lào Cai cho biết đến "
            "nay đã có 95% xã có cáp quang.",
}
TEXT = DOCUMENT["text"]
# The box of a fragment of the article as the browser lays it out (its first or last line box).
FRAGMENT_BOX = """([fragment, which]) => {
  const root = document.querySelector('.lsf-htx-richtext');
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = []; let text = '';
  while (walker.nextNode()) { nodes.push([walker.currentNode, text.length]); text += walker.currentNode.data; }
  const at = text.indexOf(fragment);
  if (at < 0) return null;
  const locate = (i) => { for (const [n, o] of nodes) if (i >= o && i <= o + n.data.length) return [n, i - o]; };
  const range = document.createRange();
  range.setStart(...locate(at));
  range.setEnd(...locate(at + fragment.length));
  const rects = range.getClientRects();
  const box = which === 'last' ? rects[rects.length - 1] : rects[0];
  return {x: box.x, y: box.y, width: box.width, height: box.height};
}"""


def offsets(fragment: str) -> tuple[int, int]:
    start = TEXT.index(fragment)
    return start, start + len(fragment)


def region(start: int) -> str:
    """The CSS selector of the text region starting at `start`."""
    return f'.lsf-htx-richtext .htx-highlight[data-start="{start}"]'


def vipie(*args, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([VIPIE, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert not check or result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def project(label_studio, nlp, tmp_path_factory) -> tuple[int, int]:
    """A project with the labeling config and the document's task (with predictions): (project id, task id)."""
    docs = tmp_path_factory.mktemp("browser") / "docs.jsonl"
    docs.write_text(json.dumps(DOCUMENT, ensure_ascii=False) + "\n", encoding="utf-8")
    project_id = create_project(label_studio, "vipie browser", labeling_config(default_resolver().canonical_names))
    assert import_tasks(label_studio, project_id, list(export_tasks(nlp, [docs], 100_000))) == (1, 0)
    [task] = label_studio.api("GET", f"/api/tasks?project={project_id}")["tasks"]
    return project_id, task["id"]


def drag(page, start: dict, end: dict) -> None:
    """Press the mouse at `start`, move it to `end` in steps, release it: how a person selects or resizes."""
    page.mouse.move(start["x"], start["y"])
    page.mouse.down()
    page.mouse.move(end["x"], end["y"], steps=8)
    page.mouse.up()


def fragment_edge(page, fragment: str, side: str) -> dict:
    """A point just inside the left or right edge of `fragment` in the article."""
    box = page.evaluate(FRAGMENT_BOX, [fragment, "first" if side == "left" else "last"])
    x = box["x"] + 1 if side == "left" else box["x"] + box["width"] - 1
    return {"x": x, "y": box["y"] + box["height"] / 2}


def shot(page, name: str) -> None:
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / name))
    assert (DOCS / name).stat().st_size < 300_000


@pytest.mark.slow
def test_an_annotator_corrects_a_task_in_the_browser_and_the_gold_has_it(label_studio, label_studio_login, project,
                                                                         browser_page, tmp_path):
    page, console_errors = browser_page
    project_id, task_id = project
    # A second annotator: one command, on the running server (the admin login as scripts/label_studio.py keeps it).
    (tmp_path / "vipie-login.json").write_text(json.dumps(label_studio_login), encoding="utf-8")
    made = vipie("annotate", "add-annotator", "second@vipie.local", "--url", label_studio.url, "--data-dir", tmp_path)
    email, password = made.stdout.split()[0], made.stdout.split()[2]
    assert email == "second@vipie.local" and len(password) >= 12

    # "Select region after creating it" (Label Studio's editor setting, kept in the browser): README says to turn it on.
    page.add_init_script("window.localStorage.setItem('labelStudio:settings', "
                         "JSON.stringify({selectAfterCreate: true}))")
    page.goto(f"{label_studio.url}/user/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/user/login" not in url, timeout=120_000)
    page.goto(f"{label_studio.url}/projects/{project_id}/data?task={task_id}")
    page.wait_for_selector(region(offsets("70,6%")[0]), timeout=180_000)

    # Select a METRIC: its fact form opens beside the text (right of it, level with it), field names shown.
    page.click(region(offsets("70,6%")[0]))
    form = page.locator("text=Fact of the selected METRIC")
    form.wait_for(timeout=30_000)
    text_box = page.locator(".lsf-htx-richtext").bounding_box()
    form_box = form.bounding_box()
    assert form_box["x"] >= text_box["x"] + text_box["width"] and form_box["y"] <= text_box["y"]
    assert page.locator("input[name=value]").input_value() == "70.6"
    assert page.locator("text=unit: %").count() == 1
    shot(page, "annotate-metric-form.png")

    # Correct a span: the INDICATOR "hồ sơ trực tuyến mức độ 4" ends at "trực tuyến" (drag its right handle).
    indicator_start = offsets("hồ sơ trực tuyến mức độ 4")[0]
    page.click(region(indicator_start))
    handle = page.locator(f"{region(indicator_start)} .__resize_right")
    handle.wait_for(timeout=30_000)  # the handles are drawn once the click has selected the region
    handle = handle.bounding_box()
    drag(page, {"x": handle["x"] + handle["width"] / 2, "y": handle["y"] + handle["height"] / 2},
         fragment_edge(page, "trực tuyến", "right"))
    assert page.locator(region(indicator_start)).get_attribute("data-end") == str(offsets("hồ sơ trực tuyến")[1])
    shot(page, "annotate-span-corrected.png")

    # Draw a METRIC anew (delete the predicted one, select METRIC, select "95%"): it is selected on creation,
    # its form opens, and submitting it without a value is refused.
    page.click(region(offsets("95%")[0]))
    page.keyboard.press("Backspace")
    assert page.locator(region(offsets("95%")[0])).count() == 0
    page.click(".lsf-label:has-text('METRIC') >> nth=0")
    drag(page, fragment_edge(page, "95%", "left"), fragment_edge(page, "95%", "right"))
    form.wait_for(timeout=30_000)
    assert page.locator("input[name=value]").input_value() == ""
    page.click("button:has-text('Submit')")
    refusal = page.locator("text=Every METRIC needs its value")
    refusal.wait_for(timeout=30_000)
    shot(page, "annotate-required-value.png")
    assert label_studio.api("GET", f"/api/tasks/{task_id}/annotations") == []
    page.click("button:has-text('OK')")

    # Correct the fields and submit.
    page.fill("input[name=value]", "95")
    page.press("input[name=value]", "Tab")
    page.fill("input[name=year]", "2022")
    page.press("input[name=year]", "Tab")
    page.click("button:has-text('Submit')")
    deadline = time.monotonic() + 60
    while not label_studio.api("GET", f"/api/tasks/{task_id}/annotations") and time.monotonic() < deadline:
        time.sleep(1)
    [annotation] = label_studio.api("GET", f"/api/tasks/{task_id}/annotations")
    assert annotation["completed_by"] != 1  # the new annotator, not the admin
    assert not [e for e in console_errors if "404" not in e], console_errors

    # Export through the API into a file named as the browser names it, and import it.
    export = tmp_path / f"project-{project_id}-at-2026-11-30-19-30-5a1b2c3d.json"
    export.write_text(json.dumps(export_project(label_studio, project_id), ensure_ascii=False), encoding="utf-8")
    gold_file = tmp_path / "gold.jsonl"
    imported = vipie("annotate", "import", export, "--out", gold_file)
    assert f"imported {DOCUMENT['id']}" in imported.stderr
    [gold] = [json.loads(line) for line in gold_file.read_text(encoding="utf-8").splitlines()]
    assert gold["text"] == TEXT
    facts = {(f["metric"]["start"], f["metric"]["end"]): f for f in gold["facts"]}
    corrected = facts[offsets("trên 1.200")]
    start, end = offsets("hồ sơ trực tuyến")
    assert corrected["indicator_span"] == {"start": start, "end": end}
    assert corrected["indicator"] == TEXT[start:end] == "hồ sơ trực tuyến"
    drawn = facts[offsets("95%")]
    assert (drawn["metric"]["text"], drawn["value"], drawn["year"]) == ("95%", 95.0, 2022)
    assert {"start": offsets("95%")[0], "end": offsets("95%")[1], "label": "METRIC", "text": "95%"} in gold["entities"]
    assert facts[offsets("70,6%")]["value"] == 70.6


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ml_backend():
    """`vipie annotate serve-model` on a free port of 127.0.0.1; yields its URL."""
    port = free_port()
    process = subprocess.Popen([VIPIE, "annotate", "serve-model", "--port", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    url = f"http://{HOST}:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            with opener.open(url + "/health", timeout=5) as response:
                health = json.loads(response.read())
            break
        except OSError:
            time.sleep(1)
    else:
        pytest.fail(f"vipie annotate serve-model did not answer on {url}")
    yield url, health["model_version"]
    process.terminate()
    process.wait(30)


@pytest.mark.slow
def test_label_studio_gets_predictions_for_a_new_task_from_the_ml_backend(label_studio, ml_backend, nlp):
    url, version = ml_backend
    assert version == model_version(nlp)
    project_id = create_project(label_studio, "vipie ml backend", labeling_config(default_resolver().canonical_names))
    backend = connect_ml_backend(label_studio, project_id, url)
    assert backend["state"] == "CO" and connect_ml_backend(label_studio, project_id, url)["id"] == backend["id"]
    # A task added without predictions (as an annotator's upload in the browser would be).
    task = {"data": {"doc_id": DOCUMENT["id"], "text": TEXT, "meta": DOCUMENT["meta"]}}
    assert import_tasks(label_studio, project_id, [task]) == (1, 0)
    [server_task] = label_studio.api("GET", f"/api/tasks?project={project_id}")["tasks"]
    assert label_studio.api("GET", f"/api/predictions?task={server_task['id']}") == []
    retrieve_predictions(label_studio, project_id)
    [prediction] = label_studio.api("GET", f"/api/predictions?task={server_task['id']}")
    assert prediction["model_version"] == version
    metrics = sorted(item["value"]["text"] for item in prediction["result"]
                     if item.get("from_name") == "label" and item["value"]["labels"] == ["METRIC"])
    assert metrics == sorted(["trên 1.200", "70,6%", "95%"])
    values = {item["value"]["text"]: item["value"]["number"] for item in prediction["result"]
              if item.get("from_name") == "value"}
    assert values == {"trên 1.200": 1200.0, "70,6%": 70.6, "95%": 95.0}
