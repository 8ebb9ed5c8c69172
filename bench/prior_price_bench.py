"""What the prior price rule costs a build: a shop of 1,000 products whose git history holds ~200
commits of price changes (raises, sales with a true "was" price, ends of sales) over 90 days.

It builds the same repository into two folders, one without the price history (the rule skipped)
and one with it, and times a cold build, a no-change build and a one-change build of each; then the
rule's own steps (reading the log, walking it for the reduced skus) with a cold and a warm blob cache.

    .venv/bin/python bench/prior_price_bench.py               # 1,000 products, 200 commits
    .venv/bin/python bench/prior_price_bench.py --products 200 --commits 50
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.build import BuildConfig, build  # noqa: E402
from content.gitrepo import Author, Repository  # noqa: E402
from content.parse import parse_site  # noqa: E402
from content.prices import PriceHistory, check, with_lowest  # noqa: E402

AUTHOR = Author("Bench", "bench@example.com")
NOW = datetime.now(timezone.utc).replace(microsecond=0)
WINDOW = timedelta(days=30)


def product(i: int, cents: int, compare: int | None) -> bytes:
    was = f'compare_price: "{compare // 100}.{compare % 100:02d}"\n' if compare else ""
    return (f'---\nname: Product {i}\nsku: P-{i}\nprice: "{cents // 100}.{cents % 100:02d}"\n{was}'
            f"categories: [c{i % 12}]\n---\nProduct {i}, described in a sentence or two.\n").encode()


def commit_at(repo: Repository, when: datetime, changes: dict[str, bytes]) -> str:
    stamp = f"{int(when.timestamp())} +0000"
    os.environ["GIT_AUTHOR_DATE"] = os.environ["GIT_COMMITTER_DATE"] = stamp
    try:
        return repo.write(changes, AUTHOR, "prices")
    finally:
        del os.environ["GIT_AUTHOR_DATE"], os.environ["GIT_COMMITTER_DATE"]


def generate(path: Path, products: int, commits: int, seed: int = 1) -> Repository:
    """Every sale's compare_price is the true lowest price of the 30 days before it, so builds pass."""
    rng = random.Random(seed)
    repo = Repository.create(path, None, AUTHOR)
    start = NOW - timedelta(days=90)
    regular = {i: rng.randrange(200, 5000, 10) for i in range(products)}
    charged: dict[int, list[tuple[datetime, int]]] = {i: [(start, regular[i])] for i in range(products)}
    on_sale: set[int] = set()
    files = {f"products/p-{i}.md": product(i, regular[i], None) for i in range(products)}
    files["site.yaml"] = b"name: Bench Shop\ncurrency: EUR\ntimezone: Europe/Berlin\nprior_price_rule: true\n"
    commit_at(repo, start, files)
    for n in range(commits):
        when = start + (NOW - timedelta(days=1) - start) * (n + 1) / commits
        changes = {}
        for i in rng.sample(range(products), rng.randint(1, 3)):
            if i in on_sale:
                on_sale.discard(i)
                price, compare = regular[i], None
            elif rng.random() < 0.5:
                regular[i] += 50
                price, compare = regular[i], None
            else:
                price = regular[i] - 100
                history = charged[i]
                in_window = [p for k, (t, p) in enumerate(history)
                             if t < when and (k + 1 == len(history) or history[k + 1][0] > when - WINDOW)]
                low = min(in_window)
                compare = low if low > price else None
                if compare:
                    on_sale.add(i)
            charged[i].append((when, price))
            changes[f"products/p-{i}.md"] = product(i, price, compare)
        commit_at(repo, when, changes)
    return repo


def timed(fn, runs: int = 1) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def run_build(repo: Repository, out: Path, with_history: bool, cache: dict, workers: int):
    source = repo.source()
    try:
        history = PriceHistory(repo, source.commit, cache=cache) if with_history else None
        return build(BuildConfig(source, out, ROOT / "themes", shop=True, cache_dir=out.parent / f"{out.name}.cache",
                                 workers=workers, price_history=history))
    finally:
        source.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        seconds, repo = timed(lambda: generate(root / "repo.git", args.products, args.commits))
        reduced = sum(b"compare_price" in (repo.read(f"products/p-{i}.md") or b"") for i in range(args.products))
        print(f"generated {args.products} products, {args.commits} commits, {reduced} on sale now ({seconds:.1f} s)")

        source = repo.source()
        content = parse_site(source)
        source.close()
        head = repo.head() or ""
        cold = {}
        walk_cold, priors = timed(lambda: PriceHistory(repo, head, cache=cold).priors(content, NOW))
        walk_warm, _ = timed(lambda: PriceHistory(repo, head, cache=cold).priors(content, NOW), runs=5)
        apply_s, _ = timed(lambda: (check(content, priors), with_lowest(content, priors)), runs=5)
        print(f"rule steps: walk of the history for the reduced skus {walk_cold * 1000:.0f} ms with a cold "
              f"blob cache ({len(cold)} blobs parsed), {walk_warm * 1000:.1f} ms warm; check and lowest prices "
              f"{apply_s * 1000:.1f} ms; {len(check(content, priors))} errors")

        blob_cache: dict = {}
        for label, with_history in (("without history", False), ("with the rule", True)):
            out = root / ("rule" if with_history else "plain")
            first = run_build(repo, out, with_history, blob_cache, args.workers)
            same, result = timed(lambda: run_build(repo, out, with_history, blob_cache, args.workers), runs=5)
            assert result.up_to_date  # type: ignore[union-attr]
            print(f"{label}: cold build {first.seconds:.2f} s ({first.rendered} pages); no-change build "
                  f"{same * 1000:.1f} ms")
        # One change (a price raised on a product not on sale), built into each folder in turn.
        for n in range(3):
            i = next(i for i in range(n * 10, args.products)
                     if b"compare_price" not in (repo.read(f"products/p-{i}.md") or b""))
            text = (repo.read(f"products/p-{i}.md") or b"").replace(b'price: "', b'price: "1', 1)
            head = commit_at(repo, NOW, {f"products/p-{i}.md": text})
            source = repo.source(head)
            content = parse_site(source)
            source.close()
            walk, _ = timed(lambda: PriceHistory(repo, head, cache=copy.deepcopy(blob_cache)).priors(content, NOW))
            line = [f"the rule's walk {walk * 1000:.1f} ms"]
            for label, with_history in (("without history", False), ("with the rule", True)):
                result = run_build(repo, root / ("rule" if with_history else "plain"), with_history, blob_cache,
                                   args.workers)
                line.append(f"{label} {result.seconds * 1000:.0f} ms ({result.rendered} pages)")
            print("one-change build: " + "; ".join(line))


if __name__ == "__main__":
    main()
