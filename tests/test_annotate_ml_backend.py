"""`vipie annotate serve-model`: Label Studio's ML backend protocol over the project's model (in-process server)."""

import json
import threading
import unicodedata
import urllib.error
import urllib.request

import pytest

from pipeline.annotate.ml_backend import answer, make_server, metric_fields
from pipeline.annotate.tasks import prediction_result
from pipeline.document import make_document
from pipeline.extract import process_document

TEXT = "Năm 2022, tỉnh Lào Cai có trên 1.200 hồ sơ trực tuyến và khoảng 35%-40% xã có cáp quang."
TASK = {"id": 3, "data": {"doc_id": "lao-cai", "text": TEXT, "meta": {"province": "Lào Cai"}}}


def drawn(fragment: str, label: str = "METRIC", rid: str = "new1") -> dict:
    start = TEXT.index(fragment)
    return {"id": rid, "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": start + len(fragment), "text": fragment, "labels": [label]}}


@pytest.fixture(scope="module")
def backend(nlp):
    """The backend on a free port of 127.0.0.1, serving in a thread; yields a function that calls it."""
    server = make_server(nlp, "vipie-test/model-1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    url = f"http://{server.server_address[0]}:{server.server_address[1]}"

    def call(path: str, body=None) -> tuple[int, dict]:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode("utf-8"))
        request = urllib.request.Request(url + path, data=data, method="GET" if body is None else "POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with opener.open(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    yield call
    server.shutdown()
    server.server_close()


def test_health_and_setup_give_the_model_version(backend):
    assert backend("/health") == (200, {"status": "UP", "model_class": "vipie", "model_version": "vipie-test/model-1"})
    assert backend("/setup", {"project": "1.1700000000", "schema": "<View/>"}) == (
        200, {"model_version": "vipie-test/model-1"})


def test_predict_gives_what_vipie_annotate_export_predicts(backend, nlp):
    status, body = backend("/predict", {"tasks": [TASK], "project": "1.1", "label_config": "<View/>"})
    assert status == 200
    [prediction] = body["results"]
    record = process_document(nlp, make_document("lao-cai", TEXT, {"province": "Lào Cai"}, 100_000))
    assert prediction["result"] == prediction_result(record) and prediction["model_version"] == "vipie-test/model-1"
    assert 0 <= prediction["score"] <= 1


def test_a_drawn_metric_gets_value_unit_and_qualifier_from_the_number_parser(backend):
    context = {"result": [drawn("khoảng 35%-40%"), drawn("Lào Cai", "LOCATION", "loc")]}
    status, body = backend("/predict", {"tasks": [TASK], "params": {"context": context}})
    assert status == 200
    fields = {item["from_name"]: item for item in body["results"][0]["result"]}
    assert {name: item["value"].get("number", item["value"].get("choices", item["value"].get("text")))
            for name, item in fields.items()} == {"value": 35.0, "value_max": 40.0, "unit": ["%"],
                                                  "qualifier": ["approx"]}
    assert {item["id"] for item in fields.values()} == {"new1"}


@pytest.mark.parametrize("region", [drawn("Lào Cai", "LOCATION"),
                                    {**drawn("trên 1.200"), "value": {"labels": ["METRIC"]}}, drawn("hồ sơ")])
def test_metric_fields_are_empty_when_there_is_nothing_to_read(region):
    assert metric_fields(TEXT, region) == []


def test_text_not_in_nfc_gets_an_empty_prediction(nlp):
    task = {"data": {"text": unicodedata.normalize("NFD", TEXT)}}
    status, body = answer(nlp, "v", "/predict", {"tasks": [task]})
    assert status == 200 and body["results"] == [{"result": [], "score": 0.0, "model_version": "v"}]


@pytest.mark.parametrize("path, body, status", [
    ("/nothing", None, 404), ("/nothing", {}, 404), ("/predict", {"tasks": "x"}, 400), ("/predict", b"[1, 2]", 400),
    ("/predict", b"{not json", 400), ("/train", {}, 200),
])
def test_other_requests_get_a_clear_answer(backend, path, body, status):
    got, payload = backend(path, body)
    assert got == status and (status == 200 or payload["error"])
