"""The prior price rule: a struck-through "was" price must be the lowest price the shop charged in
the 30 days before the reduction began (EU Omnibus directive, Art. 6a of the Price Indication
Directive). What was charged, and when, is read from the repository's history; this module never
writes anything but the blob cache its caller keeps.

Charged: a sku's price as committed on the first-parent line of ``main`` (each commit counts from its
committer date; commits of a push being checked count from the moment of the check), while its
product was ``active``. Times are exact instants: the window is the 30 × 24 hours before the moment
the reduction began, the price in effect at the window's start included, a price replaced exactly at
the start not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

from .errors import ContentError
from .gitrepo import Repository
from .model import Content, Product, Variant
from .money import Money, display
from .parse import parse_product

WINDOW = timedelta(days=30)
CACHE = "cache/prices.pickle"  # in a tenant's folder
_ZERO = "0" * 40
_NEVER = datetime.min.replace(tzinfo=timezone.utc)

# (price, compare_price, active) in minor units; None where the sku did not exist.
Value = tuple[int, "int | None", bool] | None


@dataclass(frozen=True)
class Prior:
    """What the history says of one sku's current reduction."""

    began: datetime  # when the reduction began
    lowest: int | None  # the lowest price charged in the 30 days before (minor units); None: nothing was


@dataclass
class _Commit:
    sha: str
    time: datetime
    changes: list[tuple[str, str]]  # (old blob, new blob) of products/*.md files, zeros when absent


class PriceHistory:
    """The versions of ``products/`` on the first-parent line of ``commit``, read newest first and only
    as far back as the reductions being checked need.

    ``pending`` names commits (those of a push being checked) that are not published yet: they count
    from ``now`` rather than from their own dates, which their author chose. ``cache`` (blob id and
    currency → the skus' values) may be kept by the caller between builds: blobs never change.
    """

    def __init__(self, repo: Repository, commit: str, *, cache: dict | None = None,
                 pending: frozenset[str] = frozenset()) -> None:
        self.repo, self.commit, self.pending = repo, commit, pending
        self.cache = {} if cache is None else cache
        # The history the rule reads is the commit's ancestry, so the commit names it: part of the
        # build's signature (a build of the same commit again stays a no-change build).
        self.key = commit + ":" + hashlib.blake2b(repr(sorted(pending)).encode(), digest_size=8).hexdigest()
        self._tree: dict[str, str] | None = None
        self._proc: subprocess.Popen | None = None

    # -- the rule -------------------------------------------------------------------------------

    def priors(self, content: Content, now: datetime, *, pending_content: bool = False) -> dict[str, Prior]:
        """sku → its reduction's start and the lowest price charged in the 30 days before, for every
        variant of an active product that shows a reduction. ``pending_content``: ``content`` is not
        ``commit``'s tree but a change to it not committed yet (the admin's save), effective ``now``."""
        currency = content.site.currency
        current = {v.sku: _value(p, v) for p, v in reduced(content)}
        if not current:
            return {}
        points: dict[str, list[tuple[datetime, Value]]] = {sku: [] for sku in current}
        cursor: dict[str, Value] = dict(current)
        try:
            if pending_content:
                base = self._base_values(content, set(current), currency)
                for sku, value in current.items():
                    if base.get(sku) != value:
                        points[sku].append((now, value))
                        cursor[sku] = base.get(sku)
            open_skus = set(current)
            log = self._log()
            for commit in log:
                when = now if commit.sha in self.pending else min(commit.time, now)
                before: dict[str, Value] = {}  # the touched skus' values before the commit (None: added by it)
                for old, new in commit.changes:
                    for sku in self._facts(new, currency).keys() & open_skus:
                        before.setdefault(sku, None)
                for old, new in commit.changes:
                    before.update((sku, value) for sku, value in self._facts(old, currency).items() if sku in open_skus)
                for sku, value in before.items():
                    points[sku].append((when, cursor[sku]))
                    cursor[sku] = value
                    if _resolved(points[sku]):
                        open_skus.discard(sku)
                if not open_skus:
                    break
            log.close()  # stops git: the rest of the history is not needed
        finally:
            self.close()
        result = {}
        for sku, sku_points in points.items():
            if sku in open_skus:
                sku_points.append((_NEVER, cursor[sku]))  # before the history began
            result[sku] = _prior(sku_points)
        return result

    def _log(self) -> Iterator[_Commit]:
        """The commits that changed products/, newest first. Read from git only as far as needed and
        only where an earlier walk has not been: each commit's changes and the next commit down the
        line are kept in the cache, so a build after one more commit reads one commit from git."""
        start, skip = self.commit, False
        while True:
            prev = None
            known = False
            stream = self._git_log(start)
            try:
                for sha, stamp, changes in stream:
                    if skip:  # the commit git restarts from: already given
                        skip, prev = False, sha
                        continue
                    if prev is not None:
                        self.cache[("log", prev)][2] = sha
                    entry = self.cache.setdefault(("log", sha), [stamp, changes, None])
                    yield _Commit(sha, datetime.fromtimestamp(entry[0], timezone.utc), entry[1])
                    prev = sha
                    if entry[2] is not None:
                        known = True
                        break
                else:
                    if prev is not None:
                        self.cache[("log", prev)][2] = ""  # the end of the history
                    return
            finally:
                stream.close()
            while known:  # follow what an earlier walk read
                after = self.cache[("log", prev)][2]
                if after == "":
                    return
                if after is None:
                    start, skip = prev, True
                    break
                entry = self.cache[("log", after)]
                yield _Commit(after, datetime.fromtimestamp(entry[0], timezone.utc), entry[1])
                prev = after

    def _git_log(self, start: str) -> Iterator[tuple[str, int, list[tuple[str, str]]]]:
        proc = subprocess.Popen(["git", "log", "--first-parent", "--raw", "--no-renames", "--no-abbrev",
                                 "--format=%x00%H %ct", start, "--", "products/"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env={**os.environ, "GIT_DIR": str(self.repo.path), "LC_ALL": "C", **self.repo.env})
        assert proc.stdout is not None
        try:
            current: tuple[str, int, list[tuple[str, str]]] | None = None
            for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                if line.startswith("\0"):
                    if current is not None:
                        yield current
                    sha, stamp = line[1:].split()
                    current = (sha, int(stamp), [])
                elif line.startswith(":") and current is not None:
                    meta, _, path = line.partition("\t")
                    fields = meta.split()
                    if _is_product(path):
                        current[2].append((fields[2], fields[3]))
            if current is not None:
                yield current
        finally:
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()  # the rest of the history is not needed
            proc.wait()

    def _base_values(self, content: Content, skus: set[str], currency: str) -> dict[str, Value]:
        """The skus' values in ``commit``'s own tree (where a pending change starts from)."""
        if self._tree is None:
            out = self.repo.git("ls-tree", "-r", "-z", self.commit, "--", "products/").stdout.decode(errors="replace")
            self._tree = {}
            for entry in filter(None, out.split("\0")):
                meta, path = entry.split("\t", 1)
                if _is_product(path):
                    self._tree[path] = meta.split()[2]
        found: dict[str, Value] = {}
        for product in content.products:  # the same file first: a sku rarely moves
            facts = self._facts(self._tree.get(product.path, _ZERO), currency)
            found.update((sku, facts[sku]) for sku in skus & facts.keys())
        if skus - found.keys():
            for blob in self._tree.values():
                facts = self._facts(blob, currency)
                found.update((sku, facts[sku]) for sku in (skus - found.keys()) & facts.keys())
        return found

    # -- blobs ----------------------------------------------------------------------------------

    def _facts(self, blob: str, currency: str) -> dict[str, Value]:
        if blob == _ZERO:
            return {}
        key = (blob, currency)
        facts = self.cache.get(key)
        if facts is None:
            product = parse_product("products/history.md", self._read(blob), currency)
            facts = {} if product is None else {v.sku: _value(product, v) for v in product.variants if v.sku}
            self.cache[key] = facts
        return facts

    def _read(self, blob: str) -> bytes:
        if self._proc is None:
            self._proc = subprocess.Popen(["git", "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          env={**os.environ, "GIT_DIR": str(self.repo.path), **self.repo.env})
        assert self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(blob.encode() + b"\n")
        self._proc.stdin.flush()
        header = self._proc.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            return b""
        data = self._proc.stdout.read(int(header[2]))
        self._proc.stdout.read(1)
        return data

    def close(self) -> None:
        if self._proc is not None:
            self._proc.stdin.close()  # type: ignore[union-attr]
            self._proc.wait()
            self._proc = None


def _is_product(path: str) -> bool:
    folder, _, name = path.partition("/")
    return folder == "products" and name.endswith(".md") and "/" not in name


def _value(product: Product, variant: Variant) -> Value:
    compare = variant.compare_price.amount if variant.compare_price else None
    return (variant.price.amount, compare, product.status == "active")


def _shows_reduction(value: Value) -> bool:
    return value is not None and value[2] and value[1] is not None and value[1] > value[0]


def _on_sale(value: Value) -> bool:
    return value is not None and value[2]


def _segments(points: list[tuple[datetime, Value]]) -> list[tuple[datetime, datetime | None, Value]]:
    """(start, end, value), newest first, from change points newest first; the newest has no end.
    Versions that were in effect for no time at all (two commits at one moment) are dropped."""
    segments: list[tuple[datetime, datetime | None, Value]] = []
    end: datetime | None = None
    for start, value in points:
        if end is not None and start >= end:
            continue
        segments.append((start, end, value))
        end = start
    return segments


def _began(segments) -> datetime | None:
    """When the current reduction began: the start of the oldest version showing it, going back
    through versions that were not on sale (a product set to draft for a while), up to the first
    version on sale without a reduction. None while the history has not shown that far."""
    began = None
    for start, _, value in segments:
        if _shows_reduction(value):
            began = start
        elif _on_sale(value):
            return began
    return None


def _resolved(points: list[tuple[datetime, Value]]) -> bool:
    segments = _segments(points)
    began = _began(segments)
    return began is not None and segments[-1][0] <= began - WINDOW


def _prior(points: list[tuple[datetime, Value]]) -> Prior:
    segments = _segments(points)
    began = _began(segments)
    if began is None:  # on sale with a reduction since the history began
        began = min((s for s, _, v in segments if _shows_reduction(v)), default=_NEVER)
    start = began - WINDOW
    charged = [value[0] for s, e, value in segments  # type: ignore[index]
               if s < began and (e is None or e > start) and _on_sale(value)]
    return Prior(began, min(charged, default=None))


# -- applying it to a site -------------------------------------------------------------------


def reduced(content: Content) -> list[tuple[Product, Variant]]:
    """Every variant of an active product whose compare_price claims a reduction."""
    return [(p, v) for p in content.products if p.status == "active"
            for v in p.variants if v.sku and v.compare_price is not None and v.compare_price > v.price]


def check(content: Content, priors: dict[str, Prior]) -> list[ContentError]:
    """An error at the compare_price line of every variant whose "was" price is above the lowest
    price charged in the 30 days before its reduction began."""
    zone = ZoneInfo(content.site.timezone)
    errors = []
    for product, variant in reduced(content):
        prior = priors.get(variant.sku)
        if prior is None:
            continue
        assert variant.compare_price is not None
        was = display(variant.compare_price)
        began = "the history began" if prior.began == _NEVER else \
            f"it began ({prior.began.astimezone(zone).strftime('%Y-%m-%d %H:%M')})"
        who = f"{variant.sku}: " if len(product.variants) > 1 else ""
        if prior.lowest is None:
            errors.append(ContentError(product.path, variant.compare_line or None,
                                       f"{who}{was} claims a reduction, but nothing was charged for {variant.sku} in "
                                       f"the 30 days before {began}; remove compare_price until an earlier "
                                       "price has been charged", "compare_price"))
        elif variant.compare_price.amount > prior.lowest:
            lowest = display(Money(prior.lowest, variant.compare_price.currency))
            errors.append(ContentError(product.path, variant.compare_line or None,
                                       f"{who}{was} claims a reduction, but the lowest price charged in the 30 days "
                                       f"before {began} is {lowest}; show {lowest} as the earlier price, "
                                       "or remove compare_price", "compare_price"))
    return errors


def with_lowest(content: Content, priors: dict[str, Prior]) -> Content:
    """The content with ``lowest_30d`` set on each reduced variant and its product (the lowest of
    its variants'), for templates. Products without a reduction stay the very same objects, so
    that their pages' fingerprints are computed as before."""
    products = []
    for product in content.products:
        variants = []
        for variant in product.variants:
            prior = priors.get(variant.sku)
            if prior is not None and prior.lowest is not None and variant.compare_price is not None \
                    and variant.compare_price > variant.price:
                variant = dataclasses.replace(variant, lowest_30d=Money(prior.lowest, variant.price.currency))
            variants.append(variant)
        lows = [v.lowest_30d for v in variants if v.lowest_30d is not None]
        if lows:
            product = dataclasses.replace(product, variants=tuple(variants), lowest_30d=min(lows))
        products.append(product)
    return dataclasses.replace(content, products=tuple(products))


def read_cache(tenant_folder: Path) -> dict:
    """What the tenant's builds have read of product versions (``tenants/<slug>/cache/prices.pickle``,
    written only by the platform's builds); empty when there is none yet."""
    try:
        return pickle.loads((tenant_folder / CACHE).read_bytes())
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        return {}


def errors_at(repo: Repository, commit: str, content: Content, now: datetime, *, cache: dict | None = None,
              pending_content: bool = False) -> list[ContentError]:
    """The rule's errors for ``content`` (the tree of ``commit``, or with ``pending_content`` a change
    to it saved ``now``): none when the site does not ask for the rule."""
    if not content.site.prior_price_rule or not reduced(content):
        return []
    history = PriceHistory(repo, commit, cache=cache)
    return check(content, history.priors(content, now, pending_content=pending_content))
