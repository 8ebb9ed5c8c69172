"""``tessera worker``: builds, publishes, notifications and housekeeping in a process of their own.

The serving process never builds: a thousand tenants' requests must not wait behind one tenant's
build, nor share its memory. ``tessera serve`` starts one worker by default (``--workers N`` for
more, ``--workers 0`` when the operator runs them elsewhere); any number of workers share the one
job queue in ``platform.db``, each running one build at a time.

A worker also checks pushes for the pre-receive hooks of its node (``tessera.pushcheck``), with the
same memory of each site's last build as its publishes.

A queued job wakes the workers at once: each worker binds a datagram socket in
``<data>/workers/``, and whoever queues a job sends one byte to each (``wake_workers``). A worker
also looks at the queue every few seconds, for jobs that come due and for a wake-up that was missed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import socket
import threading
from pathlib import Path

from content.migrations import platform_location
from .settings import Settings

log = logging.getLogger(__name__)
POLL = 2.0  # seconds between looks at the queue when nothing woke the worker


def sockets_dir(settings: Settings) -> Path:
    return settings.data_dir / "workers"


def wake_workers(folder: Path) -> None:
    """Tell every worker listening in ``folder`` that a job was queued (best effort, never blocks)."""
    listening_workers(folder)


def listening_workers(folder: Path) -> int:
    """How many workers listen in ``folder``, waking each (the asking is the wake-up). A worker that
    died without removing its socket loses it; one that could not bind its socket (a data folder too
    deep) is not counted."""
    try:
        names = list(folder.glob("*.sock"))
    except OSError:
        return 0
    alive = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        for name in names:
            try:
                sender.sendto(b"!", str(name))
            except ConnectionRefusedError:  # a worker that died without removing its socket
                name.unlink(missing_ok=True)
                continue
            except FileNotFoundError:  # stopped just now
                continue
            except OSError:  # its buffer is full: alive, and woken already
                pass
            alive += 1
    return alive


class Worker:
    """One worker process's job runner, wake-up listener and housekeeping."""

    def __init__(self, settings: Settings, *, poll: float = POLL, parent: int | None = None) -> None:
        """``parent``: the pid of the ``tessera serve`` that started this worker; when it is gone (even
        killed with SIGKILL, which lets it clean up nothing) the worker stops too."""
        from publish.jobs import Queue

        from .app import job_runner
        from .housekeeping import Housekeeper
        from .pushcheck import SUFFIX, CheckServer
        from .sites import BuildMemory

        self.settings = settings
        self.parent = parent
        self.queue = Queue(platform_location(settings.data_dir))
        self.memory = BuildMemory()  # what its builds keep of each site, for its jobs and push checks
        self.runner = job_runner(settings, self.memory, workers=1, poll=poll)  # one build at a time per process
        self.housekeeper = Housekeeper(settings)
        self.stopping = threading.Event()
        self.orphaned = threading.Event()
        folder = sockets_dir(settings)
        folder.mkdir(parents=True, exist_ok=True)
        # Workers in containers sharing the data folder often have the same pid: the machine's name
        # (hashed short, for the 107-byte limit on a socket's path) keeps their sockets apart.
        machine = hashlib.blake2b(socket.gethostname().encode(), digest_size=4).hexdigest()
        self.address = folder / f"{os.getpid()}-{machine}.sock"
        self.checks = CheckServer(settings, self.memory, folder / f"{os.getpid()}-{machine}{SUFFIX}")
        self.address.unlink(missing_ok=True)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.settimeout(0.5)
        self._bound = True
        try:
            self._socket.bind(str(self.address))
        except OSError:
            self._bound = False  # a socket's path has at most 107 bytes: a deep data folder has longer ones
            log.warning("worker %s cannot listen at %s (path too long?): it looks at the queue every %s s "
                        "instead of being woken", os.getpid(), self.address, poll)

    def start(self) -> None:
        from .app import schedule_billing_sweep, sweep_outboxes

        self.runner.start()
        self.housekeeper.start()
        self.checks.start()
        sweep_outboxes(self.settings, self.queue)
        schedule_billing_sweep(self.settings, self.queue)
        threading.Thread(target=self._listen, name="worker-wake", daemon=True).start()

    def _listen(self) -> None:
        while not self.stopping.is_set():
            if self._bound:
                try:
                    self._socket.recv(64)
                    self.runner.wake()
                    continue
                except TimeoutError:
                    pass
                except OSError:  # closed by stop()
                    return
            else:
                self.stopping.wait(0.5)  # nothing to receive: only the parent to watch
            if self.parent is not None and os.getppid() != self.parent:
                log.warning("the server that started worker %s is gone: stopping", os.getpid())
                self.orphaned.set()

    def stop(self) -> None:
        self.stopping.set()
        self.checks.stop()
        self.housekeeper.stop()
        self.runner.stop()
        self._socket.close()
        self.address.unlink(missing_ok=True)

    def run(self) -> None:
        """Run until SIGTERM or SIGINT, or until the server that started it is gone."""
        done = self.orphaned
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: done.set())
        self.start()
        log.info("worker %s is taking jobs", os.getpid())
        try:
            done.wait()
        finally:
            self.stop()
