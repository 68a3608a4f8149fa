"""A local Label Studio server, started from its own virtual environment and driven over REST.

Label Studio's pins (Django, its SDK) clash with ours, so it lives in `.venv-ls`
(`make label-studio`) and is never imported: this module starts its executable on
127.0.0.1 with an sqlite store in a data folder and a fixed API token, waits for
it, and speaks to it with the standard library's HTTP client. Only 127.0.0.1 is
ever contacted; proxies from the environment are ignored, and Label Studio's own
calls home (version check, analytics, Sentry) are switched off.
"""

import http.cookiejar
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.parse
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
        # The ML backend (`vipie annotate serve-model`) listens on 127.0.0.1, which Label Studio refuses by default,
        # both for the backend and for the webhook it makes for it. The server itself listens on 127.0.0.1 only,
        # for annotators on this machine: no outside user can make it fetch a local address.
        "ML_BLOCK_LOCAL_IP": "false",
        "SSRF_PROTECTION_ENABLED": "false",
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


LOGIN_FILE = "vipie-login.json"


def ensure_login(data_dir: Path, username: str = "annotator@vipie.local") -> dict:
    """The admin login of the server in `data_dir`: read, or made once (Label Studio sets a token only then)."""
    path = data_dir / LOGIN_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"username": username, "password": secrets.token_urlsafe(12),
                                    "token": secrets.token_hex(20)}), encoding="utf-8")
        path.chmod(0o600)
    return read_login(data_dir)


def read_login(data_dir: Path) -> dict:
    """The admin login `ensure_login` made for the server in `data_dir`.

    Raises:
        LabelStudioError: there is none (the server was never started with this --data-dir).
    """
    path = data_dir / LOGIN_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LabelStudioError(f"{path}: no Label Studio login ({exc}); start the server with "
                               f"scripts/label_studio.py --data-dir {data_dir} first") from None


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


def project_doc_ids(server: LabelStudio, project: int) -> set[str]:
    """The document ids (task data `doc_id`) of every task in `project`."""
    ids, page = set(), 1
    while True:
        answer = server.api("GET", f"/api/tasks?project={project}&page_size=500&page={page}&fields=all")
        tasks = answer.get("tasks", []) if isinstance(answer, dict) else answer
        ids.update(str(t["data"].get("doc_id")) for t in tasks)
        if len(tasks) < 500:
            return ids
        page += 1


def new_tasks(tasks: list[dict], known: set[str]) -> list[dict]:
    """The tasks whose document is not in `known` (nor earlier in `tasks`): tasks are keyed by document id."""
    seen = set(known)
    fresh = []
    for task in tasks:
        doc_id = str(task["data"].get("doc_id"))
        if doc_id not in seen:
            seen.add(doc_id)
            fresh.append(task)
    return fresh


def import_tasks(server: LabelStudio, project: int, tasks: list[dict]) -> tuple[int, int]:
    """Import the `tasks` (with their predictions) whose document `project` does not hold yet.

    Running it again with the same tasks (a restart of `scripts/label_studio.py`) adds nothing; tasks are
    keyed by their document id. Label Studio validates predictions against the project's config and refuses
    the import if one does not fit it.

    Returns:
        (tasks created, tasks skipped because their document is already in the project)
    """
    fresh = new_tasks(tasks, project_doc_ids(server, project))
    if not fresh:
        return 0, len(tasks)
    answer = server.api("POST", f"/api/projects/{project}/import", fresh, timeout=600)
    return int(answer.get("task_count", 0)), len(tasks) - len(fresh)


def add_annotator(server: LabelStudio, email: str, password: str) -> None:
    """Create an annotator account in the server's organization, as the invite link would.

    Label Studio's API cannot set a password, so this signs up through the invite link's form (sign-up is
    closed to anyone without the organization's token).

    Raises:
        LabelStudioError: the server refuses (the email is taken or invalid, the password too short).
    """
    token = server.api("GET", "/api/invite")["token"]
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar))
    signup = f"{server.url}/user/signup/?token={urllib.parse.quote(token)}"
    browser.open(signup, timeout=60).read()
    csrf = next((c.value for c in jar if c.name == "csrftoken"), "")
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": csrf, "email": email, "password": password}).encode()
    request = urllib.request.Request(signup, data=form, method="POST", headers={"Referer": signup})
    try:
        with browser.open(request, timeout=60) as response:
            page = response.read().decode("utf-8", "replace")
            landed = response.geturl()
    except urllib.error.HTTPError as exc:
        raise LabelStudioError(f"{server.url}: sign-up of {email} refused (HTTP {exc.code})") from exc
    users = server.api("GET", "/api/users?page_size=1000")
    users = users.get("results", users) if isinstance(users, dict) else users
    if not any(u.get("email") == email for u in users):
        reason = "the email is taken or invalid, or the password too short" if "signup" in landed else page[:200]
        raise LabelStudioError(f"{server.url}: no account made for {email} ({reason}); choose another email or a "
                               f"longer password")


def connect_ml_backend(server: LabelStudio, project: int, url: str, title: str = "vipie") -> dict:
    """Connect the ML backend at `url` to `project` (Label Studio checks its /health and /setup first).

    A backend already connected at `url` is kept; new tasks then get their predictions from it.
    """
    backends = server.api("GET", f"/api/ml?project={project}")
    known = next((b for b in backends if b.get("url") == url), None)
    if known is not None:
        return known
    return server.api("POST", "/api/ml", {"project": project, "url": url, "title": title, "is_interactive": True})


def retrieve_predictions(server: LabelStudio, project: int) -> dict:
    """Ask the project's ML backend for predictions of every task that has none from its current model version."""
    return server.api("POST", f"/api/dm/actions?id=retrieve_tasks_predictions&project={project}",
                      {"project": project, "selectedItems": {"all": True, "excluded": []}}, timeout=600)


def export_project(server: LabelStudio, project: int, all_tasks: bool = False) -> list[dict]:
    """The project's JSON export (what Export → JSON downloads): annotated tasks, or all with `all_tasks`."""
    query = "exportType=JSON" + ("&download_all_tasks=true" if all_tasks else "")
    return server.api("GET", f"/api/projects/{project}/export?{query}", timeout=600)
