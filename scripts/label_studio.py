"""Start a local Label Studio for annotators, with the vipie project configured and tasks imported.

    .venv/bin/python scripts/label_studio.py tasks.json [more.json ...] [--port 8080] [--data-dir .label-studio]
        [--ml-backend http://127.0.0.1:9090]

The server (from .venv-ls, `make label-studio`) listens on 127.0.0.1 only and keeps its sqlite store
in --data-dir; the admin login is made on the first start and kept in DATA_DIR/vipie-login.json. The
project ("vipie" unless --title) gets `vipie annotate config`; each tasks file (`vipie annotate export`)
is imported, the documents the model is least sure of first, and a document already in the project is
skipped, so starting again with the same files adds nothing. --ml-backend connects `vipie annotate
serve-model`. Ctrl-C stops the server. Export from the web UI as JSON, then `vipie annotate import`.
"""

import argparse
import signal
import sys
from pathlib import Path

from pipeline.annotate.config import labeling_config
from pipeline.annotate.server import (
    connect_ml_backend,
    ensure_login,
    ensure_project,
    import_tasks,
    port_in_use,
    retrieve_predictions,
    start_label_studio,
)
from pipeline.annotate.tasks import ranked, read_tasks
from pipeline.errors import VipieError
from pipeline.provinces import default_resolver

REPO = Path(__file__).resolve().parent.parent


def set_up(server, title: str, task_files: list[Path], ml_backend: str | None) -> int:
    """Make the project `title` current and import the tasks it does not hold yet; returns the project id."""
    project = ensure_project(server, title, labeling_config(default_resolver().canonical_names))
    for path in task_files:
        created, skipped = import_tasks(server, project, ranked(read_tasks(path)))
        print(f"{path}: {created} tasks imported, {skipped} already in the project")
    if ml_backend:
        connect_ml_backend(server, project, ml_backend)
        retrieve_predictions(server, project)  # tasks added without predictions get the backend's
        print(f"ML backend {ml_backend} connected")
    return project


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", type=Path, help="tasks files written by `vipie annotate export`")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--data-dir", type=Path, default=REPO / ".label-studio")
    parser.add_argument("--title", default="vipie")
    parser.add_argument("--ml-backend", help="URL of `vipie annotate serve-model` to connect to the project")
    parser.add_argument("--label-studio", type=Path, default=REPO / ".venv-ls" / "bin" / "label-studio")
    args = parser.parse_args()
    if port_in_use(args.port):
        print(f"label_studio: port {args.port} is busy on 127.0.0.1; pass another --port", file=sys.stderr)
        return 2
    user = ensure_login(args.data_dir.resolve())
    print(f"starting Label Studio on 127.0.0.1:{args.port} (a fresh --data-dir migrates for about a minute) ...")
    try:
        server = start_label_studio(args.label_studio, args.data_dir.resolve(), port=args.port, **user)
    except VipieError as exc:
        print(f"label_studio: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` stops the server too, not only Ctrl-C
    try:
        project = set_up(server, args.title, args.tasks, args.ml_backend)
        print(f"ready in {server.started_in:.0f} s: {server.url}/projects/{project}  "
              f"login {user['username']} / {user['password']}  (Ctrl-C stops the server)", flush=True)
        server.process.wait()
    except KeyboardInterrupt:
        pass
    except VipieError as exc:
        print(f"label_studio: {exc}", file=sys.stderr)
        return 2
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
