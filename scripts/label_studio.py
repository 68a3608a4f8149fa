"""Start a local Label Studio for annotators, with the vipie project configured and tasks imported.

    .venv/bin/python scripts/label_studio.py tasks.json [more.json ...] [--port 8080] [--data-dir .label-studio]

The server (from .venv-ls, `make label-studio`) listens on 127.0.0.1 only and keeps its sqlite store
in --data-dir; the login is made on the first start and kept in DATA_DIR/vipie-login.json. The project
("vipie" unless --title) gets `vipie annotate config`; each tasks file (`vipie annotate export`) is
imported. Ctrl-C stops the server. Export from the web UI as JSON, then `vipie annotate import`.
"""

import argparse
import json
import secrets
import signal
import sys
from pathlib import Path

from pipeline.annotate.config import labeling_config
from pipeline.annotate.server import ensure_project, import_tasks, port_in_use, start_label_studio
from pipeline.errors import VipieError
from pipeline.provinces import default_resolver

REPO = Path(__file__).resolve().parent.parent


def login(data_dir: Path) -> dict:
    """The annotators' login for this data folder: read, or made once (Label Studio sets a token only then)."""
    path = data_dir / "vipie-login.json"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"username": "annotator@vipie.local", "password": secrets.token_urlsafe(12),
                                    "token": secrets.token_hex(20)}), encoding="utf-8")
        path.chmod(0o600)
    return json.loads(path.read_text(encoding="utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", type=Path, help="tasks files written by `vipie annotate export`")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--data-dir", type=Path, default=REPO / ".label-studio")
    parser.add_argument("--title", default="vipie")
    parser.add_argument("--label-studio", type=Path, default=REPO / ".venv-ls" / "bin" / "label-studio")
    args = parser.parse_args()
    if port_in_use(args.port):
        print(f"label_studio: port {args.port} is busy on 127.0.0.1; pass another --port", file=sys.stderr)
        return 2
    user = login(args.data_dir.resolve())
    print(f"starting Label Studio on 127.0.0.1:{args.port} (a fresh --data-dir migrates for about a minute) ...")
    try:
        server = start_label_studio(args.label_studio, args.data_dir.resolve(), port=args.port, **user)
    except VipieError as exc:
        print(f"label_studio: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` stops the server too, not only Ctrl-C
    try:
        project = ensure_project(server, args.title, labeling_config(default_resolver().canonical_names))
        for path in args.tasks:
            tasks = json.loads(path.read_text(encoding="utf-8"))
            print(f"{path}: {import_tasks(server, project, tasks)} tasks imported")
        print(f"ready in {server.started_in:.0f} s: {server.url}/projects/{project}  "
              f"login {user['username']} / {user['password']}  (Ctrl-C stops the server)")
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
