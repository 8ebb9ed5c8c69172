"""The parse cache on disk: every file's parse result, with the pages' and posts' bodies kept apart.

A rebuild needs every entry's front matter (to plan listings, tags and feeds) but the bodies of
only the pages it renders again. So ``parse.pickle`` holds the entries without their bodies (a few
MB at 10,000 pages, instead of 60) and the bodies sit end to end in a bodies file, each entry
pointing at its bytes: a fresh process reads the small index, and the bodies it renders.

The bodies file is only ever appended to, with one ``write`` per save on a file opened for
appending, so a save never moves bytes an index already points at (a build worker's background
save may run next to a CLI build of the same folder). When more than half of it is bodies nobody
points at any more, a save writes a new one under a new name and the old one goes; a process still
reading the old one keeps its open descriptor.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import secrets
from functools import partial
from pathlib import Path

from content.model import Entry

FORMAT = "parse-2"
_FIELDS = tuple(f.name for f in dataclasses.fields(Entry) if f.name != "body")


class _Bodies:
    """An open bodies file; entries loaded from the index read their body from it when asked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # FileNotFoundError: the index is stale

    def read(self, offset: int, length: int) -> str:
        # pread: no shared file position, so threads and forked workers may read at once.
        return os.pread(self.fd, length, offset).decode()

    def __del__(self) -> None:
        fd = getattr(self, "fd", None)  # None when the file was not there to open
        if fd is not None:
            os.close(fd)


def load(cache_dir: Path | None, version: str) -> dict:
    """The parse cache saved by ``save``, or an empty one when there is none or it is unusable.

    Each value is ``parse_site``'s (key, item, errors, digest), and for an entry loaded without its
    body a fifth element: where the body is (bodies file name, offset, length), for the next save."""
    if cache_dir is None:
        return {}
    try:
        with open(cache_dir / "parse.pickle", "rb") as handle:
            data = pickle.load(handle)
        if data.get("format") != FORMAT or data.get("version") != version or data.get("fields") != _FIELDS:
            return {}  # another format, or saved when an entry had other fields
        bodies = _Bodies(cache_dir / data["bodies"]) if data["bodies"] else None
        cache = {}
        for path, (key, kind, item, errors, digest) in data["items"].items():
            if kind == "entry":
                fields, offset, length = item
                item = Entry.body_later(dict(zip(_FIELDS, fields)), partial(bodies.read, offset, length))
                cache[path] = (key, item, errors, digest, (data["bodies"], offset, length))
            else:
                cache[path] = (key, item, errors, digest)
        return cache
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, KeyError, TypeError,
            ValueError):
        return {}


def save(cache_dir: Path | None, cache: dict, version: str) -> None:
    """Write ``cache``: bodies not in the current bodies file yet are appended, then the index
    replaced. Entries' values in ``cache`` get where their body is, so the next save skips them."""
    if cache_dir is None:
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    entries = [(path, value) for path, value in cache.items() if type(value[1]) is Entry]
    names = [value[4][0] for _, value in entries if len(value) > 4]
    current = cache_dir / max(set(names), key=names.count) if names else None
    refs: dict[str, tuple[int, int]] = {}
    new: list[tuple[str, bytes]] = []
    live = 0
    for path, value in entries:
        if current is not None and len(value) > 4 and value[4][0] == current.name:
            refs[path] = value[4][1:]
            live += value[4][2]
        else:
            new.append((path, _body_bytes(value[1])))
            live += len(new[-1][1])
    fd = None
    if current is not None and new:
        try:  # never created here: if it is gone, another save replaced it and the offsets are void
            fd = os.open(current, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        except FileNotFoundError:
            current = None
    if current is not None and current.exists() and current.stat().st_size > 2 * live + (1 << 20):
        current = None  # mostly bodies nobody points at any more
    if current is None and entries:
        # A new bodies file with only what is pointed at: every body is written again.
        if fd is not None:
            os.close(fd)
        current = cache_dir / f"bodies.{secrets.token_hex(6)}.dat"
        fd = os.open(current, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        new = [(path, _body_bytes(value[1])) for path, value in entries]
        refs = {}
    if fd is not None:
        blob = b"".join(data for _, data in new)
        try:
            written = os.write(fd, blob)
            if written != len(blob):
                raise OSError(f"{current}: short write while saving the parse cache")
            offset = os.lseek(fd, 0, os.SEEK_CUR) - len(blob)
        finally:
            os.close(fd)
        for path, data in new:
            refs[path] = (offset, len(data))
            offset += len(data)
    items = {}
    for path, value in list(cache.items()):
        key, item, errors, digest = value[:4]
        if type(item) is Entry:
            assert current is not None
            fields = tuple(item.__dict__[name] for name in _FIELDS)
            items[path] = (key, "entry", (fields, *refs[path]), errors, digest)
            cache[path] = (key, item, errors, digest, (current.name, *refs[path]))
        else:
            items[path] = (key, "item", item, errors, digest)
    tmp = cache_dir / f".parse.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    with open(tmp, "wb") as handle:
        pickle.dump({"format": FORMAT, "version": version, "fields": _FIELDS, "bodies": current.name if current else "",
                     "items": items}, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, cache_dir / "parse.pickle")
    for old in cache_dir.glob("bodies.*.dat"):
        if current is None or old.name != current.name:
            old.unlink(missing_ok=True)  # readers of an older index keep their open descriptor


def _body_bytes(entry: Entry) -> bytes:
    """The body to write, read without keeping it in the entry (a long-lived builder keeps entries)."""
    load = entry.__dict__.get("_body_loader")
    return (load() if load is not None else entry.body).encode()
