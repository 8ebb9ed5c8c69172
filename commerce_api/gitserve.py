"""Git over HTTP: ``/git/<tenant>.git`` served by git's own ``http-backend`` (smart protocol).

Clone and fetch need a member who may read pages; push needs one who may change some of the
repository's files (``REPOSITORY_WRITES``). Credentials are HTTP Basic: the account's email and
password, or any name and a personal API token. The repository's pre-receive hook then checks the
push path by path against the same permissions table (the pusher's role reaches it through the
environment given to ``git http-backend``, set here and never from the request), checks its images,
and builds the site before the push is accepted; it is published after.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

from .auth.credentials import API_TOKEN_PREFIX
from content.plans import FeatureOff, check_feature

from .errors import TooManyRequests
from .security import client_address, suspended_error
from .services import Services

MAX_PUSH_BYTES = 512 * 2**20  # compressed; the largest plan's media uploads stay well under it
MAX_FETCH_REQUEST_BYTES = 8 * 2**20  # the commits a clone or fetch wants and has

_PATH = re.compile(r"^/git/([a-z0-9-]+)\.git(/.*)$")


class GitServer:
    def __init__(self, services: Services, on_push: Callable[[str], None],
                 prepare: Callable[[Path], None]) -> None:
        self.services = services
        self.on_push = on_push
        self.prepare = prepare

    async def __call__(self, scope, receive, send) -> None:
        match = _PATH.match(scope["path"])
        if not match:
            return await _reply(send, 404, b"not a repository\n")
        slug, rest = match.groups()
        query = scope.get("query_string", b"").decode()
        writing = rest.endswith("/git-receive-pack") or "service=git-receive-pack" in query
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        address = client_address(scope, self.services.config.trusted_proxies)
        tenant = self.services.db.registry.find(slug)
        user = await asyncio.to_thread(self._authenticate, headers.get("authorization", ""), tenant, address)
        if user is None:
            return await _reply(send, 401, b"sign in with your email and password, or an API token\n",
                                {"www-authenticate": 'Basic realm="Tessera"'})
        role = self.services.users.role(user.id, tenant.id)
        from .auth.permissions import REPOSITORY_WRITES, permitted

        shop = tenant.has("ecommerce")
        if writing and not any(permitted(role, a, superadmin=user.is_superadmin, shop=shop) for a in REPOSITORY_WRITES):
            return await _reply(send, 403, f"your role ({role or 'none'}) may not change any of this site's files\n".encode())
        if not permitted(role, "pages:read", superadmin=user.is_superadmin):
            return await _reply(send, 403, b"your role may not read this site\n")
        if not tenant.has("git"):
            try:
                check_feature(self.services.db.registry, tenant, "git")
                refusal = "git access is off for this site"
            except FeatureOff as exc:
                refusal = str(exc)
            return await _reply(send, 403, f"{refusal} Edit the site in the admin meanwhile.\n".encode())
        if writing and tenant.suspended:
            return await _reply(send, 403, f"{suspended_error(tenant).message}\n".encode())
        # The body goes to a file, never whole into this process's memory, and has a ceiling: a push
        # carries at most a plan's worth of media, a fetch only a short list of commits.
        limit = MAX_PUSH_BYTES if writing else MAX_FETCH_REQUEST_BYTES
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return await _reply(send, 413, f"the request is over {limit // 2**20} MiB; push less at once\n".encode())
        body = tempfile.TemporaryFile()
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                body.close()
                return await _reply(send, 413, f"the request is over {limit // 2**20} MiB; push less at once\n".encode())
            body.write(chunk)
            if not message.get("more_body"):
                break
        body.seek(0)
        repo_root = self.services.config.data_dir / "tenants" / slug
        self.prepare(repo_root / "repo.git")
        env = {**os.environ, "GIT_PROJECT_ROOT": str(repo_root), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": "/repo.git" + rest, "REQUEST_METHOD": scope["method"], "QUERY_STRING": query,
               "CONTENT_TYPE": headers.get("content-type", ""), "REMOTE_USER": user.email, "REMOTE_ADDR": address,
               "TESSERA_PUSH_TENANT": slug, "TESSERA_DATA_DIR": str(self.services.config.data_dir),
               # Who pushes, for the pre-receive hook (tessera.hooks.Pusher): from the sign-in above only.
               "TESSERA_PUSH_ROLE": role or "", "TESSERA_PUSH_SUPERADMIN": "1" if user.is_superadmin else "0",
               "TESSERA_PUSH_USER": user.email}
        if "content-encoding" in headers:
            env["HTTP_CONTENT_ENCODING"] = headers["content-encoding"]
        if "git-protocol" in headers:
            env["GIT_PROTOCOL"] = headers["git-protocol"]
        with body:
            result = await asyncio.to_thread(subprocess.run, ["git", "http-backend"], stdin=body, env=env,
                                             capture_output=True)
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status, response_headers = 200, {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                response_headers[name.lower()] = value.strip()
        await _reply(send, status, payload, response_headers)
        if writing and rest.endswith("/git-receive-pack") and status == 200 and b"ng refs/" not in payload \
                and b"unpack ok" in payload:
            self.services.audit.record("git.push", actor=user.id, tenant_id=tenant.id, address=address)
            self.on_push(slug)

    def _authenticate(self, header: str, tenant, address: str):
        if tenant is None or not header.lower().startswith("basic "):
            return None
        try:
            name, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if secret.startswith(API_TOKEN_PREFIX):
            found = self.services.credentials.api_token(secret)
            if found is None or found[1] != tenant.id:
                return None
            return self.services.users.get(found[0])
        try:
            attempt = self.services.limiter.begin(name, address)  # a failure unless it succeeds
        except TooManyRequests:
            return None
        user = self.services.users.check_password(name, secret)
        if user is not None:
            self.services.limiter.succeeded(attempt)
        return user


async def _reply(send, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    headers = {"content-type": "text/plain; charset=utf-8", **(headers or {}), "content-length": str(len(body))}
    await send({"type": "http.response.start", "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})
    await send({"type": "http.response.body", "body": body})
