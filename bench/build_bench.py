"""Build-speed benchmark: Tessera against Hugo on the same generated pages.

For each size it generates a site (bench/gen_site.py), then alternates cold builds of Tessera
(`tessera build --source`, a fresh process with an empty cache) and Hugo (`hugo`, Debian package)
and prints the medians and their ratio. At the largest size it also measures a no-change rebuild,
a one-page edit (a fresh CLI process, and a warm long-lived builder as `tessera dev` uses) and the
peak memory of a cold build (proportional set size of the whole process tree).

    .venv/bin/python bench/build_bench.py                 # 1,000 / 4,000 / 10,000 pages
    .venv/bin/python bench/build_bench.py --sizes 1000 --runs 1
"""

from __future__ import annotations

import argparse
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
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(out.parent / f".{out.name}.cache", ignore_errors=True)
    return [*TESSERA, "build", "--source", str(site / "tessera"), "--out", str(out)]


def hugo_cold(site: Path, out: Path) -> list[str]:
    shutil.rmtree(out, ignore_errors=True)
    return ["hugo", "--quiet", "--source", str(site / "hugo"), "--destination", str(out)]


def median(values: list[float]) -> float:
    return statistics.median(values)


def bench_size(n: int, runs: int, work: Path) -> dict:
    site = work / f"site-{n}"
    if not (site / "tessera" / "site.yaml").exists():
        print(f"  generating {n} pages ...", flush=True)
        generate(n, site)
    tessera, hugo = [], []
    for _ in range(runs):
        tessera.append(timed(tessera_cold(site, work / f"tessera-{n}"))[0])
        hugo.append(timed(hugo_cold(site, work / f"hugo-{n}"))[0])
    t, h = median(tessera), median(hugo)
    print(f"{n:>7} pages  cold build  tessera {t:6.2f} s   hugo {h:6.2f} s   ratio {t / h:4.2f}x", flush=True)
    return {"n": n, "tessera": t, "hugo": h}


def bench_incremental(n: int, runs: int, work: Path) -> None:
    site = work / f"site-{n}"
    out = work / f"tessera-{n}"
    _, peak = timed(tessera_cold(site, out), sample_memory=True)
    print(f"{n:>7} pages  peak memory of a cold build: {peak:.0f} MiB (PSS, all processes)")
    build = [*TESSERA, "build", "--source", str(site / "tessera"), "--out", str(out)]
    time.sleep(1.5)  # let the files settle past the racy window
    timed(build)
    no_change = [timed(build)[0] for _ in range(runs)]
    print(f"{n:>7} pages  no-change rebuild (CLI process): {median(no_change):.3f} s")
    edits = []
    target = site / "tessera" / "posts" / "post-7.md"
    original = target.read_text()
    for i in range(runs):
        target.write_text(original + f"\nEdited paragraph {i}.\n")
        time.sleep(1.2)
        edits.append(timed(build)[0])
    target.write_text(original)
    print(f"{n:>7} pages  one edited page (CLI process): {median(edits):.3f} s")
    print(f"{n:>7} pages  one edited page (warm builder): {warm_edit(site, out, runs):.3f} s")


def warm_edit(site: Path, out: Path, runs: int) -> float:
    from builder.build import BuildConfig, build
    from content.source import DirSource

    memory: dict = {}

    def once() -> float:
        config = BuildConfig(DirSource(site / "tessera"), out, ROOT / "themes", cache_dir=out.parent / f".{out.name}.cache",
                             shop=False, memory=memory)
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
    return median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,4000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=HERE / "out")
    args = parser.parse_args()
    if shutil.which("hugo") is None:
        raise SystemExit("hugo is not installed: apt-get install hugo")
    args.work.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"hugo: {subprocess.run(['hugo', 'version'], capture_output=True, text=True).stdout.strip()}")
    for n in sizes:
        bench_size(n, args.runs, args.work)
    bench_incremental(max(sizes), args.runs, args.work)


if __name__ == "__main__":
    main()
