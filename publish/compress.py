"""Precompressed siblings: ``page.html.br`` and ``page.html.gz`` beside each text file, for the edge.

A sibling is an entry of the bucket's manifest like any file (its own SHA-256, size and the original's
type), so backends store it as they store pages and the edge finds it by name. It is made once per
content: a file whose hash the live release already has keeps the live release's siblings, and a
form that is not smaller than the file is not kept. Never compresses anything but text.
"""

from __future__ import annotations

import gzip
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import brotli

TEXT_SUFFIXES = (".html", ".css", ".js", ".xml", ".json", ".txt", ".svg")
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
SUFFIXES = tuple(suffix for _, suffix in ENCODINGS)
# Quality 11 (the best) costs ~10 ms for a 10 kB page: right for the few files of an edit. A publish
# that compresses many (a site's first) uses a quick setting that is a few per cent larger, and so
# does any large file: quality 11 takes ~2 s for the 1.5 MB search index or sitemap of a 10,000-page
# site, which change with every edit, where quality 5 takes 20 ms.
BEST, QUICK, MANY, LARGE = 11, 5, 256, 128 * 1024
THREADS = 2  # brotli and zlib release the GIL while they work


def is_sibling(path: str, manifest: dict) -> bool:
    """``path`` is a compressed form of another file of ``manifest``, not a file of the site."""
    return path.endswith(SUFFIXES) and path[:-3] in manifest


def compressible(path: str) -> bool:
    return path.endswith(TEXT_SUFFIXES) and not path.startswith("_tessera/")


def with_siblings(build_dir: Path, manifest: dict[str, list], live: dict[str, list],
                  workdir: Path) -> tuple[dict[str, list], dict[str, Path]]:
    """The manifest to publish: the build's, plus each text file's smaller compressed forms; and the
    files of the new forms, written into ``workdir`` (siblings of unchanged files come from ``live``)."""
    out = dict(manifest)
    todo: dict[str, list[str]] = {}  # content hash → paths with that content
    for rel, (sha, _, _) in manifest.items():
        if not compressible(rel):
            continue
        if rel in live and live[rel][0] == sha:
            for _, suffix in ENCODINGS:
                if rel + suffix in live:
                    out[rel + suffix] = live[rel + suffix]
            continue
        todo.setdefault(sha, []).append(rel)
    quality = BEST if len(todo) <= MANY else QUICK
    files: dict[str, Path] = {}

    def work(item: tuple[str, list[str]]) -> None:
        sha, paths = item
        data = (build_dir / paths[0]).read_bytes()
        best = quality == BEST and len(data) <= LARGE
        forms = {".br": brotli.compress(data, quality=BEST if best else QUICK),
                 ".gz": gzip.compress(data, 9 if best else 6, mtime=0)}
        for suffix, packed in forms.items():
            if len(packed) >= len(data):
                continue  # not worth a sibling: the edge serves the file itself
            path = workdir / f"{sha}{suffix}"
            path.write_bytes(packed)
            entry = [hashlib.sha256(packed).hexdigest(), len(packed), manifest[paths[0]][2]]
            for rel in paths:
                out[rel + suffix] = entry
                files[rel + suffix] = path

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(work, todo.items()))
    return out, files  # in no order: the manifest is written with its keys sorted
