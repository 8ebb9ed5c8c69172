"""A push's check, run by a warm worker: the pre-receive hook asks a ``tessera worker`` of this node.

The hook is a fresh process for every push. Checking a push means building the site at the pushed
commit, and a fresh process first loads the site's build state and parse cache from disk and then
saves them again (about 1.3 s of a one-page push to a 10,000-page site). A worker keeps both in
memory between jobs (``tessera.sites.BuildMemory``), so the same check there is a one-page build,
and the publish after it finds the site built in the memory it will use.

Each worker listens on a Unix stream socket, ``<data>/workers/<pid>-<machine>.check`` (owner only).
The hook sends one JSON line: the ref updates git gave it, the repository, who pushes (set by the git
server, ``tessera.hooks.Pusher``) and where git keeps the pushed objects until the hook accepts them
(the quarantine: the worker's git commands read them from there). The worker runs
``tessera.hooks.pre_receive`` and answers one JSON line: the exit code and what the pusher reads.

No worker listening, or one that dies before answering: the hook checks the push itself, as before.
A request naming a repository that is not a tenant's of this installation, or a quarantine outside
that repository, is refused.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
from collections.abc import Mapping
from pathlib import Path

from .hooks import QUARANTINE, ROLE, SUPERADMIN, TENANT, USER

log = logging.getLogger(__name__)

SUFFIX = ".check"
MAX_REQUEST = 1 << 20  # bytes: ref lines and a few paths
ANSWER_TIMEOUT = 900.0  # seconds the hook waits for a worker's check (a first build of a big site)
CHECKS_AT_ONCE = 2  # a worker's checks running side by side; more pushes wait their turn
# What the hook passes on of its environment: who pushes, and where the pushed objects are.
PASSED = (ROLE, SUPERADMIN, USER, TENANT, *QUARANTINE)


class Refused(ValueError):
    """A request the worker will not run."""


# -- the hook's side ------------------------------------------------------------------------------


def ask(folder: Path, lines: list[str], repo_path: Path, env: Mapping[str, str]) -> tuple[int, str] | None:
    """Have a worker listening in ``folder`` (``worker.sockets_dir``) check the push: (exit code, the
    pusher's messages), or None when no worker answered (the hook then checks it itself)."""
    try:
        sockets = [p for p in folder.iterdir() if p.name.endswith(SUFFIX)]
    except OSError:
        return None
    random.shuffle(sockets)  # several workers share the pushes
    request = json.dumps({"lines": lines, "repo": str(repo_path),
                          "env": {k: env[k] for k in PASSED if k in env}}).encode() + b"\n"
    for path in sockets:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(2.0)
            try:
                conn.connect(str(path))
            except OSError:  # a worker that stopped without removing it, or one that cannot take more
                continue
            conn.settimeout(ANSWER_TIMEOUT)
            try:
                conn.sendall(request)
                answer = _read_line(conn)
                reply = json.loads(answer)
                return int(reply["exit"]), str(reply["output"])
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("the worker at %s did not finish checking a push; checking it here", path.name)
                return None  # it may have died half-way: this process checks, from the start
    return None


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            raise ValueError("closed before a whole line")
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError("line too long")
    return data


# -- the worker's side ----------------------------------------------------------------------------


class CheckServer:
    """A worker's check socket: each connection is one push's check, in a thread of its own."""

    def __init__(self, settings, memory, address: Path) -> None:
        self.settings, self.memory, self.address = settings, memory, address
        self._socket: socket.socket | None = None
        self._slots = threading.BoundedSemaphore(CHECKS_AT_ONCE)

    def start(self) -> bool:
        """Listen; False when the socket cannot be made (a data folder too deep for a socket's path)."""
        self.address.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.address))
            os.chmod(self.address, 0o600)  # the hook runs as the installation's user; nobody else asks
            sock.listen(16)
        except OSError:
            sock.close()
            log.warning("worker %s cannot take push checks at %s (path too long?): hooks check pushes "
                        "themselves", os.getpid(), self.address)
            return False
        self._socket = sock
        threading.Thread(target=self._accept, name="push-checks", daemon=True).start()
        return True

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
            self.address.unlink(missing_ok=True)

    def _accept(self) -> None:
        sock = self._socket
        while sock is not None:
            try:
                conn, _ = sock.accept()
            except OSError:  # closed by stop()
                return
            threading.Thread(target=self._serve, args=(conn,), name="push-check", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(10.0)
                request = json.loads(_read_line(conn))
                conn.settimeout(None)
                with self._slots:
                    code, output = self.check(request)
            except Refused as exc:
                code, output = 1, f"Push rejected: {exc}\n"
            except Exception:  # noqa: BLE001 (no answer: the hook checks the push itself)
                log.exception("checking a push failed in worker %s", os.getpid())
                return
            try:
                conn.sendall(json.dumps({"exit": code, "output": output}).encode() + b"\n")
            except OSError:
                pass  # the hook is gone: git has refused the push already

    def check(self, request: dict) -> tuple[int, str]:
        import io

        from .hooks import pre_receive

        lines, repo, env = _valid(self.settings.data_dir, request)
        out = io.StringIO()
        code = pre_receive(lines, repo, env, out=out, settings=self.settings, memory=self.memory)
        return code, out.getvalue()


def _valid(data_dir: Path, request: object) -> tuple[list[str], Path, dict[str, str]]:
    """The request's lines, repository and environment, once each is what a hook of this installation
    sends: a tenant's repository, and a quarantine inside it."""
    from content.errors import InvalidSlug
    from content.registry import validate_slug

    if not isinstance(request, dict):
        raise Refused("a malformed check request")
    lines, repo, env = request.get("lines"), request.get("repo"), request.get("env")
    if not (isinstance(lines, list) and all(isinstance(x, str) for x in lines) and isinstance(repo, str)
            and isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
        raise Refused("a malformed check request")
    env = {k: v for k, v in env.items() if k in PASSED}
    slug = env.get("TESSERA_PUSH_TENANT", "")
    tenants = (data_dir / "tenants").resolve()
    path = Path(repo).resolve()
    try:
        validate_slug(slug)  # the registry's own rule: no "./bakery" naming the same folder
    except InvalidSlug:
        raise Refused("the repository is not this site's") from None
    if path != tenants / slug / "repo.git" or not path.is_dir():
        raise Refused("the repository is not this site's")
    # git runs the hook in the repository: a relative path is relative to it. The worker's git
    # commands run elsewhere, so each is passed on absolute.
    for key in ("GIT_OBJECT_DIRECTORY", "GIT_QUARANTINE_PATH"):
        if key in env:
            where = (path / env[key]).resolve()
            if not where.is_relative_to(path / "objects"):
                raise Refused("the pushed objects are not in this site's repository")
            env[key] = str(where)
    if "GIT_ALTERNATE_OBJECT_DIRECTORIES" in env:
        alternates = [(path / each).resolve() for each in env["GIT_ALTERNATE_OBJECT_DIRECTORIES"].split(os.pathsep) if each]
        if not all(each.is_relative_to(path) for each in alternates):
            raise Refused("the pushed objects are not in this site's repository")
        env["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = os.pathsep.join(map(str, alternates))
    return lines, path, env
