"""The annotators' loop against a real Label Studio server (label-studio==1.23.2 in .venv-ls).

The server (the session's `label_studio` fixture, tests/conftest.py) is started on
127.0.0.1 on a free port with its sqlite store in a temporary folder, driven over
REST like the web editor does, and stopped at the end. `make test` installs it
(`make label-studio`) and sets VIPIE_LABEL_STUDIO, so that there a missing server
fails instead of skipping.
"""

import copy
import json
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.annotate.config import labeling_config
from pipeline.annotate.gold import GOLD_FACT_KEYS
from pipeline.annotate.server import create_project, export_project, import_tasks
from pipeline.document import iter_documents
from pipeline.provinces import default_resolver
from tests.annotate_helpers import label_studio_executable
from tests.conftest import REPO, SEEDS

VIPIE = str(Path(sys.executable).parent / "vipie")
SEED = SEEDS / "002_05d8b83d5e813e7b.txt"  # Cà Mau: diacritics everywhere, relations to LOCATION and AGENCY
CRLF_DOC = {"id": "crlf-ca-mau", "meta": {"province": "Cà Mau", "published": "2022-06-01"},
            "text": "Năm 2022, tỉnh Cà Mau có trên 1.200 hồ sơ trực tuyến.\r\nĐến nay, cả nước đạt 70,6% cơ quan "
                    "kết nối.\r\nSở Thông tin và Truyền thông tỉnh Cà Mau cho biết."}


def vipie(*args) -> subprocess.CompletedProcess:
    result = subprocess.run([VIPIE, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """`vipie annotate export` of one seed article and of a document with "\\r\\n" line breaks.

    `vipie extract` of the same inputs, run right after, gives the pipeline output the gold must match.
    """
    folder = tmp_path_factory.mktemp("tasks")
    docs = folder / "docs.jsonl"
    docs.write_text(json.dumps(CRLF_DOC, ensure_ascii=False) + "\n", encoding="utf-8")
    vipie("annotate", "export", SEED, docs, "--out", folder / "tasks.json")
    vipie("extract", SEED, docs, "--out", folder / "extracted.jsonl", "--quiet")
    return folder


def test_predictions_fit_the_labeling_config_by_label_studio_own_validator(tmp_path):
    """Label Studio's SDK (LabelInterface) accepts every prediction of every seed under our config."""
    python = label_studio_executable("python")
    vipie("annotate", "export", SEEDS, "--out", tmp_path / "tasks.json")
    vipie("annotate", "config", "--out", tmp_path / "config.xml")
    check = ("import json, sys\n"
             "from label_studio_sdk.label_interface import LabelInterface\n"
             "li = LabelInterface(open(sys.argv[1], encoding='utf-8').read())\n"
             "tasks = json.load(open(sys.argv[2], encoding='utf-8'))\n"
             "print(json.dumps([t['data']['doc_id'] + ': ' + str(e) for t in tasks for p in t['predictions']\n"
             "                  for e in li.validate_prediction(p, return_errors=True)]))\n")
    result = subprocess.run([str(python), "-c", check, tmp_path / "config.xml", tmp_path / "tasks.json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
    assert len(json.loads((tmp_path / "tasks.json").read_text(encoding="utf-8"))) == 5


def corrected(result: list[dict]) -> tuple[list[dict], dict]:
    """The prediction with an annotator's corrections: one METRIC's INDICATOR region shrunk to its first word
    (guidelines v2: the indicator is a span), one entity deleted.

    Returns the new result and what was changed ({"indicator": (metric start, metric end, new indicator span),
    "deleted": (start, end)}).
    """
    result = copy.deepcopy(result)
    indicator = next(item for item in result if item.get("from_name") == "indicator_span"
                     and len(item["value"]["text"].split()) > 1)
    first_word = indicator["value"]["text"].split()[0]
    indicator["value"].update(end=indicator["value"]["start"] + len(first_word), text=first_word)
    relation = next(item for item in result if item["type"] == "relation" and item["to_id"] == indicator["id"])
    metric = next(item for item in result if item.get("id") == relation["from_id"] and item["from_name"] == "label")
    targets = {item["to_id"] for item in result if item["type"] == "relation"}
    victim = next(item for item in result if item.get("from_name") == "label" and item["id"] not in targets
                  and item["value"]["labels"] != ["METRIC"])
    result = [item for item in result if item.get("id") != victim["id"]]
    return result, {"indicator": (metric["value"]["start"], metric["value"]["end"],
                                  {"start": indicator["value"]["start"], "end": indicator["value"]["end"]}),
                    "deleted": (victim["value"]["start"], victim["value"]["end"])}


def expected_gold(extracted: Path, inputs: list[Path], changes: dict) -> list[dict]:
    """What the gold must be, from `vipie extract`'s output and the corrections, independently of gold.py."""
    records = [json.loads(line) for line in extracted.read_text(encoding="utf-8").splitlines()]
    documents = []
    for document, record in zip(iter_documents(inputs), records, strict=True):
        change = changes.get(record["id"], {})
        facts = [{k: f[k] for k in GOLD_FACT_KEYS} for f in record["facts"]]
        for fact in facts:
            if "indicator" in change and (fact["metric"]["start"], fact["metric"]["end"]) == change["indicator"][:2]:
                span = change["indicator"][2]
                fact["indicator"], fact["indicator_span"] = record["text"][span["start"]:span["end"]], span
        entities = [{k: e[k] for k in ("start", "end", "label", "text")} for e in record["entities"]
                    if (e["start"], e["end"]) != change.get("deleted")]
        documents.append({"id": record["id"], "text": record["text"], "meta": document.meta, "entities": entities,
                          "facts": facts, "errors": []})
    return documents


@pytest.mark.slow
def test_label_studio_round_trip(label_studio, exported, tmp_path):
    started = time.perf_counter()
    tasks = json.loads((exported / "tasks.json").read_text(encoding="utf-8"))
    config = vipie("annotate", "config").stdout
    assert config == labeling_config(default_resolver().canonical_names)
    project = create_project(label_studio, "vipie round trip", config)
    assert import_tasks(label_studio, project, tasks) == (2, 0)

    changes = {}
    server_tasks = label_studio.api("GET", f"/api/tasks?project={project}&page_size=100")["tasks"]
    assert sorted(t["data"]["doc_id"] for t in server_tasks) == sorted([SEED.stem, CRLF_DOC["id"]])
    for server_task in server_tasks:
        [prediction] = label_studio.api("GET", f"/api/predictions?task={server_task['id']}")
        assert prediction["model_version"].startswith("vipie-") and prediction["result"]
        result = prediction["result"]
        if server_task["data"]["doc_id"] == SEED.stem:
            result, changes[SEED.stem] = corrected(result)
        annotation = label_studio.api("POST", f"/api/tasks/{server_task['id']}/annotations",
                                      {"result": result, "was_cancelled": False, "ground_truth": False,
                                       "lead_time": 12.5})
        assert annotation["id"]

    export = export_project(label_studio, project)
    assert all(isinstance(a["completed_by"], int) for t in export for a in t["annotations"])
    assert all(isinstance(p, int) for t in export for p in t["predictions"])  # the sync export lists ids only
    export_file = tmp_path / "export.json"
    export_file.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    gold_file = tmp_path / "gold.jsonl"
    vipie("annotate", "import", export_file, "--out", gold_file)
    gold = {d["id"]: d for d in map(json.loads, gold_file.read_text(encoding="utf-8").splitlines())}

    docs = exported / "docs.jsonl"
    expected = {d["id"]: d for d in expected_gold(exported / "extracted.jsonl", [SEED, docs], changes)}
    assert gold == expected  # offsets, labels, facts and meta, on Vietnamese text with diacritics and "\r\n"
    crlf = gold[CRLF_DOC["id"]]
    assert crlf["text"] == CRLF_DOC["text"] and "\r\n" in crlf["text"]
    assert all(crlf["text"][e["start"]:e["end"]] == e["text"] for e in crlf["entities"])
    metric_start, metric_end, span = changes[SEED.stem]["indicator"]
    [fact] = [f for f in gold[SEED.stem]["facts"] if (f["metric"]["start"], f["metric"]["end"]) == (metric_start, metric_end)]
    assert fact["indicator_span"] == span and " " not in fact["indicator"]
    print(f"round trip (project, import, annotate, export, vipie import) in {time.perf_counter() - started:.1f} s")


def label_studio_script():
    spec = importlib.util.spec_from_file_location("label_studio_script", REPO / "scripts" / "label_studio.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_starting_the_annotation_server_twice_leaves_the_task_count_unchanged(label_studio, exported, capsys):
    """What scripts/label_studio.py does at each start, twice with the same tasks, then with one more document."""
    script = label_studio_script()
    tasks_file = exported / "tasks.json"
    project = script.set_up(label_studio, "vipie twice", [tasks_file], None)
    assert script.set_up(label_studio, "vipie twice", [tasks_file], None) == project
    server_tasks = label_studio.api("GET", f"/api/tasks?project={project}&page_size=100")["tasks"]
    assert sorted(t["data"]["doc_id"] for t in server_tasks) == sorted([SEED.stem, CRLF_DOC["id"]])
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{tasks_file}: 2 tasks imported, 0 already in the project",
                   f"{tasks_file}: 0 tasks imported, 2 already in the project"]
    tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
    another = copy.deepcopy(tasks[1])
    another["data"]["doc_id"] = "another"
    assert import_tasks(label_studio, project, [*tasks, another]) == (1, 2)  # `vipie annotate` adds tasks later
    assert len(label_studio.api("GET", f"/api/tasks?project={project}&page_size=100")["tasks"]) == 3
