"""A local Label Studio server, started from its own virtual environment and driven over REST.

Label Studio's pins (Django, its SDK) clash with ours, so it lives in `.venv-ls`
(`make label-studio`) and is never imported: this module starts its executable on
127.0.0.1 with an sqlite store in a data folder and a fixed API token, waits for
it, and speaks to it with the standard library's HTTP client. Only 127.0.0.1 is
ever contacted; proxies from the environment are ignored, and Label Studio's own
calls home (version check, analytics, Sentry) are switched off.
"""

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import LabelStudioError

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_env(data_dir: Path, username: str, password: str, token: str, base: dict | None = None) -> dict:
    """The environment Label Studio starts with: its store in `data_dir`, one user with a legacy API token.

    The token is only applied when the user is first created (a fresh `data_dir`), and only
    authenticates with LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true.
    """
    env = dict(os.environ if base is None else base)
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_USERNAME": username,
        "LABEL_STUDIO_PASSWORD": password,
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        # Nothing beyond 127.0.0.1: no version check on PyPI, no analytics, no Sentry (server or browser).
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "PYTHONUNBUFFERED": "1",
    })
    return env


@dataclass
class LabelStudio:
    """A running local Label Studio: its URL, API token and process; `api()` calls its REST API."""

    url: str
    token: str
    process: subprocess.Popen | None = None
    log: Path | None = None
    started_in: float = 0.0
    _opener: urllib.request.OpenerDirector = field(
        default_factory=lambda: urllib.request.build_opener(urllib.request.ProxyHandler({})), repr=False)

    def api(self, method: str, path: str, body=None, timeout: float = 120):
        """Call `path` (e.g. "/api/projects") with JSON `body`; returns the decoded JSON answer.

        Raises:
            LabelStudioError: the server answered with an error status or could not be reached.
        """
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Token {self.token}", "Content-Type": "application/json"})
        try:
            with self._opener.open(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:2000]
            raise LabelStudioError(f"{method} {path}: HTTP {exc.code}: {' '.join(detail.split())}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise LabelStudioError(f"{method} {path}: {self.url} unreachable ({exc})") from exc
        return json.loads(payload) if payload.strip() else None

    def healthy(self) -> bool:
        """Whether the server answers /health."""
        try:
            with self._opener.open(self.url + "/health", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 20) -> None:
        """Stop the server process this object started (nothing else)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def log_tail(self, lines: int = 20) -> str:
        if not self.log or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def start_label_studio(executable: Path, data_dir: Path, username: str, password: str, token: str,
                       port: int | None = None, timeout: float = 600) -> LabelStudio:
    """Start `label-studio` on 127.0.0.1 with its store in `data_dir`, and wait until it serves our user.

    A fresh `data_dir` is migrated first (about a minute). Label Studio silently moves to the next
    port when its port is busy, so readiness is checked on our port, as our user: /health answers
    and the token authenticates as `username`.

    Raises:
        LabelStudioError: the executable is missing, the process exits, or it is not ready in `timeout` s.
    """
    if not Path(executable).is_file():
        raise LabelStudioError(f"{executable}: no Label Studio executable; run `make label-studio` first")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = data_dir / "label-studio.log"
    started = time.perf_counter()
    with log.open("ab") as log_fh:
        process = subprocess.Popen(
            [str(executable), "start", "--no-browser", "--internal-host", HOST, "--port", str(port),
             "--data-dir", str(data_dir)],
            env=server_env(data_dir, username, password, token), stdout=log_fh, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=data_dir)
    server = LabelStudio(url=f"http://{HOST}:{port}", token=token, process=process, log=log)
    try:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                raise LabelStudioError(f"Label Studio exited with status {process.returncode} before it was ready; "
                                       f"see {log}: {server.log_tail(3)}")
            if server.healthy():
                whoami = server.api("GET", "/api/current-user/whoami")
                if whoami.get("email") != username:
                    raise LabelStudioError(f"{server.url} is another Label Studio (user {whoami.get('email')!r})")
                server.started_in = time.perf_counter() - started
                return server
            time.sleep(1)
        raise LabelStudioError(f"Label Studio not ready on {server.url} after {timeout:.0f} s; see {log}")
    except BaseException:
        server.stop()
        raise


def create_project(server: LabelStudio, title: str, label_config: str) -> int:
    """Create a project with `label_config`; returns its id."""
    return server.api("POST", "/api/projects", {"title": title, "label_config": label_config})["id"]


def find_project(server: LabelStudio, title: str) -> int | None:
    """The id of the project called `title`, or None."""
    answer = server.api("GET", "/api/projects?page_size=1000")
    projects = answer.get("results", []) if isinstance(answer, dict) else answer
    return next((p["id"] for p in projects if p.get("title") == title), None)


def ensure_project(server: LabelStudio, title: str, label_config: str) -> int:
    """The id of the project called `title`, created or updated to `label_config`.

    Raises:
        LabelStudioError: Label Studio refuses the new config (it conflicts with existing annotations).
    """
    project = find_project(server, title)
    if project is None:
        return create_project(server, title, label_config)
    server.api("PATCH", f"/api/projects/{project}", {"label_config": label_config})
    return project


def port_in_use(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port` (Label Studio would silently take the next port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((HOST, port)) == 0


def import_tasks(server: LabelStudio, project: int, tasks: list[dict]) -> int:
    """Import `tasks` (with their predictions) into `project`; returns how many tasks were created.

    Label Studio validates predictions against the project's config and refuses the import if
    one does not fit it.
    """
    answer = server.api("POST", f"/api/projects/{project}/import", tasks, timeout=600)
    return int(answer.get("task_count", 0))


def export_project(server: LabelStudio, project: int, all_tasks: bool = False) -> list[dict]:
    """The project's JSON export (what Export → JSON downloads): annotated tasks, or all with `all_tasks`."""
    query = "exportType=JSON" + ("&download_all_tasks=true" if all_tasks else "")
    return server.api("GET", f"/api/projects/{project}/export?{query}", timeout=600)
