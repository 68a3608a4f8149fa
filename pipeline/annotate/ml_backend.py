"""The project's model as a Label Studio ML backend: `vipie annotate serve-model`.

Label Studio calls an ML backend over HTTP (its `ml/api_connector.py`):

    GET  /health   -> {"status": "UP", "model_class": ...}
    POST /setup    {"project", "schema", ...}              -> {"model_version": ...}
    POST /predict  {"tasks": [...], "params": {"context"}} -> {"results": [{"result", "score", "model_version"}, ...]}

A task is predicted as `vipie annotate export` predicts it (`tasks.prediction_result`), so a task added to a
project without predictions gets the same pre-annotation as an exported one. With a `context` (interactive
pre-annotation: the annotator has just drawn a METRIC), the answer pre-fills that region's value, value_max,
unit and qualifier from the number parser. The server listens on 127.0.0.1 only.
"""

import json
import threading
import unicodedata
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pipeline.annotate.config import DOC_ID, LABELS_CONTROL, META, TEXT
from pipeline.annotate.tasks import field_item, prediction
from pipeline.document import make_document
from pipeline.numbers import parse_metric

HOST = "127.0.0.1"
MAX_BODY = 64 * 1024 * 1024  # a predict request carries whole articles; more than this is no Label Studio request


def metric_fields(text: str, region: dict) -> list[dict]:
    """Per-region fields parsed from a drawn METRIC region's text: value, value_max, unit, qualifier.

    `region` is a Label Studio `labels` result item; a region that is no METRIC, or whose number cannot be
    read, gives nothing (the annotator types it).
    """
    value = region.get("value") or {}
    start, end = value.get("start"), value.get("end")
    if value.get("labels") != ["METRIC"] or not (isinstance(start, int) and isinstance(end, int)) \
            or not 0 <= start < end <= len(text):
        return []
    parsed = parse_metric(text[start:end], text[end:end + 20])
    if parsed.value is None:
        return []
    entered = {"value": parsed.value, "value_max": parsed.value_max, "unit": parsed.unit,
               "qualifier": parsed.qualifier}
    return [field_item(name, region["id"], start, end, text[start:end], x) for name, x in entered.items()
            if x is not None]


def predict_task(nlp, task: dict, version: str, context: dict | None = None) -> dict:
    """One task's prediction: the pipeline's regions, fields and relations, or, with a `context` holding newly
    drawn regions, the fields of those regions.

    A task whose text is not in NFC gets an empty result: offsets into the normalized text would not fit it.
    """
    data = task.get("data") or {}
    text = data.get(TEXT)
    if not isinstance(text, str) or not text or unicodedata.normalize("NFC", text) != text:
        return {"result": [], "score": 0.0, "model_version": version}
    drawn = [item for item in (context or {}).get("result") or []
             if isinstance(item, dict) and item.get("from_name") == LABELS_CONTROL]
    if drawn:
        return {"result": [f for region in drawn for f in metric_fields(text, region)], "model_version": version}
    from pipeline.extract import process_document

    meta = data.get(META) if isinstance(data.get(META), dict) else {}
    document = make_document(str(data.get(DOC_ID) or task.get("id")), text, meta, max_chars=len(text))
    record = process_document(nlp, document)
    if record["errors"]:
        return {"result": [], "score": 0.0, "model_version": version}
    return prediction(record, version)


def answer(nlp, version: str, path: str, body: dict | None) -> tuple[int, dict]:
    """The backend's answer to a request: (HTTP status, JSON body). Pure but for running the model."""
    if path == "/health" and body is None:
        return 200, {"status": "UP", "model_class": "vipie", "model_version": version}
    if body is None:
        return 404, {"error": f"GET {path}: unknown; the backend answers GET /health, POST /setup and /predict"}
    if path == "/setup":
        return 200, {"model_version": version}
    if path == "/predict":
        tasks = body.get("tasks")
        if not isinstance(tasks, list):
            return 400, {"error": "POST /predict: the body has no list of 'tasks'"}
        context = (body.get("params") or {}).get("context")
        return 200, {"results": [predict_task(nlp, t, version, context) for t in tasks]}
    if path in ("/webhook", "/train"):
        return 200, {"status": "ok", "detail": "vipie trains with `vipie train`, not from Label Studio"}
    return 404, {"error": f"POST {path}: unknown; the backend answers POST /setup and /predict"}


def handler(respond: Callable[[str, dict | None], tuple[int, dict]]) -> type[BaseHTTPRequestHandler]:
    """A request handler class that answers with `respond(path, JSON body or None for GET)`."""

    class Handler(BaseHTTPRequestHandler):
        def send_json(self, status: int, payload: dict) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802  (http.server's name)
            self.send_json(*respond(self.path.split("?")[0].rstrip("/") or "/", None))

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.send_json(413, {"error": f"request of {length} bytes is over {MAX_BODY}"})
                return
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                self.send_json(400, {"error": f"the body is not JSON ({exc})"})
                return
            if not isinstance(body, dict):
                self.send_json(400, {"error": "the body is not a JSON object"})
                return
            self.send_json(*respond(self.path.split("?")[0].rstrip("/"), body))

        def log_message(self, format, *args):  # noqa: A002  (Label Studio polls /health; keep the terminal quiet)
            pass

    return Handler


def make_server(nlp, version: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1:`port` (0: any free port) serving `nlp` as an ML backend; not yet serving.

    Requests are answered in threads, so /health answers while a prediction runs; the model itself runs one
    request at a time.
    """
    model_lock = threading.Lock()

    def respond(path: str, body: dict | None) -> tuple[int, dict]:
        if body is None:
            return answer(nlp, version, path, body)
        with model_lock:
            return answer(nlp, version, path, body)

    return ThreadingHTTPServer((HOST, port), handler(respond))
