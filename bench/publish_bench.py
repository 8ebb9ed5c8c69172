"""Publish benchmark: time and requests for a 10,000-file site, to a local bucket and (with --s3)
to an S3-compatible server (moto's standalone server on loopback, through boto3).

Prints, for each backend: the first publish (everything uploaded), a no-change publish and a
one-page edit, each with the number of files uploaded and deleted.

    .venv/bin/python bench/publish_bench.py [--pages 10000] [--s3]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from builder.build import BuildConfig, build  # noqa: E402
from content.migrations import connect  # noqa: E402
from content.schema import TENANT  # noqa: E402
from content.source import DirSource  # noqa: E402
from gen_site import generate  # noqa: E402
from publish.deploy import publish_build  # noqa: E402
from publish.storage import FileStorage  # noqa: E402


def timed_publish(conn, storage, out: Path, label: str) -> None:
    started = time.perf_counter()
    deploy = publish_build(conn, storage, out, commit="bench", actor="bench")
    seconds = time.perf_counter() - started
    puts = getattr(storage, "puts", None)
    extra = f", {puts} PUT requests" if puts is not None else ""
    print(f"  {label:<18} {seconds:7.2f} s   {deploy.uploaded:6d} uploaded, {deploy.deleted} deleted{extra}", flush=True)
    if puts is not None:
        storage.puts = 0


def run_backend(name: str, storage, site: Path, out: Path, cache: Path, db: Path) -> None:
    print(f"{name}:")
    conn = connect(db, TENANT)
    config = lambda: BuildConfig(DirSource(site), out, ROOT / "themes", shop=False, cache_dir=cache)
    build(config())
    timed_publish(conn, storage, out, "first publish")
    timed_publish(conn, storage, out, "no-change publish")
    post = site / "posts" / "post-42.md"
    post.write_text(post.read_text() + "\nOne more paragraph.\n")
    build(config())
    timed_publish(conn, storage, out, "one-page edit")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=10000)
    parser.add_argument("--s3", action="store_true", help="Also publish to moto's S3 server over HTTP.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tessera-publish-bench-"))
    print(f"generating and building {args.pages} pages in {work} ...", flush=True)
    generate(args.pages, work / "site")
    site = work / "site" / "tessera"
    run_backend("local bucket (file://)", FileStorage(work / "bucket"), site, work / "out", work / "cache",
                work / "tenant.db")
    if args.s3:
        import os

        from publish.s3 import S3Storage

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        try:
            run_backend("S3 (moto server, boto3)", S3Storage("bench-site", endpoint_url=f"http://127.0.0.1:{port}"),
                        site, work / "out-s3", work / "cache-s3", work / "tenant-s3.db")
        finally:
            server.terminate()


if __name__ == "__main__":
    main()
