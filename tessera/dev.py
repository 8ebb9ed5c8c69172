"""``tessera dev``: a preview server that rebuilds on every change and reloads the open page.

Watches a site folder (or a tenant's repository, for commits and pushes) and the themes with
watchfiles, rebuilds incrementally with warm caches, and tells open pages to reload over
server-sent events. A failed build shows its errors in the browser instead of the site.
"""

from __future__ import annotations

import html
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from watchfiles import DefaultFilter, watch

from content.errors import ContentErrors, TesseraError

EVENTS = "/__tessera/events"
RELOAD_SNIPPET = (b'<script>new EventSource("' + EVENTS.encode() +
                  b'").onmessage=function(){location.reload()}</script>')


class Status:
    """The latest build's outcome, and a generation counter that open pages wait on."""

    def __init__(self) -> None:
        self.generation = 0
        self.errors: list[str] = []
        self.changed = threading.Condition()

    def publish(self, errors: list[str]) -> None:
        with self.changed:
            self.errors = errors
            self.generation += 1
            self.changed.notify_all()


class OutputFilter(DefaultFilter):
    """Ignore the build's own output and caches, so a build never triggers another."""

    def __init__(self, ignored: list[Path]) -> None:
        super().__init__()
        self.ignored = [str(p) for p in ignored]

    def __call__(self, change, path: str) -> bool:
        return super().__call__(change, path) and not any(path.startswith(p) for p in self.ignored)


def make_handler(root: Path, status: Status):
    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format, *args):  # keep the terminal for build output
            pass

        def do_GET(self):
            if self.path == EVENTS:
                return self._events()
            if status.errors and not self.path.startswith(("/assets/", "/media/")):
                return self._send(500, _error_page(status.errors))
            target = self.translate_path(self.path)
            if Path(target).is_dir() and (Path(target) / "index.html").exists():
                target = str(Path(target) / "index.html")
            if target.endswith(".html") and Path(target).is_file():
                return self._send(200, Path(target).read_bytes())
            if not Path(target).exists() and (root / "404.html").exists():
                return self._send(404, (root / "404.html").read_bytes())
            return super().do_GET()

        def _send(self, code: int, body: bytes) -> None:
            body = body.replace(b"</body>", RELOAD_SNIPPET + b"</body>", 1)
            self.send_response(code)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _events(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            seen = status.generation
            try:
                while True:
                    with status.changed:
                        status.changed.wait_for(lambda: status.generation != seen, timeout=15)
                    if status.generation != seen:
                        self.wfile.write(b"data: reload\n\n")
                        seen = status.generation
                    else:
                        self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return

    return partial(Handler, directory=str(root))


def _error_page(errors: list[str]) -> bytes:
    items = "".join(f"<li><code>{html.escape(e)}</code></li>" for e in errors)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Build failed</title>"
            f"<style>body{{font:16px/1.5 system-ui;margin:2rem;max-width:60rem}}li{{margin:.5rem 0}}"
            f"code{{background:#fee;padding:.2rem .4rem}}</style></head><body><h1>The build failed</h1>"
            f"<p>Fix these and save; this page reloads by itself.</p><ul>{items}</ul></body></html>").encode()


def serve(rebuild: Callable[[], str], root: Path, watched: list[Path], ignored: list[Path],
          host: str, port: int, echo: Callable[[str], None]) -> None:
    """Build once, serve ``root``, and rebuild whenever a watched path changes (until Ctrl-C)."""
    status = Status()

    def run_build() -> None:
        try:
            echo(rebuild())
            status.publish([])
        except ContentErrors as exc:
            errors = [str(e) for e in exc.errors]
            for line in errors:
                echo(f"error {line}")
            status.publish(errors)
        except TesseraError as exc:
            echo(f"error {exc}")
            status.publish([str(exc)])

    run_build()
    server = ThreadingHTTPServer((host, port), make_handler(root, status))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    echo(f"Serving {root} on http://{host}:{server.server_address[1]}/ — watching for changes (Ctrl-C stops)")
    try:
        for _changes in watch(*watched, watch_filter=OutputFilter(ignored), debounce=150, step=50):
            run_build()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
