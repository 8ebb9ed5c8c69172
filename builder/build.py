"""Build a site: parse, plan, render what changed, and commit it to the output folder.

Every output records a fingerprint of its inputs and the links and images it looked up; a rebuild
renders only outputs whose fingerprint or dependencies changed. New files are staged and committed
only when the whole build succeeded (see ``builder.output``), so a failed build changes nothing.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import os
import pickle
import shutil
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from content.errors import ContentError, ContentErrors
from content.source import Source

from . import urls
from .errors import BuildErrors
from .output import META, OutputLock, commit, link_or_copy, recover, scan, staging_dir, unchanged, write_new

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from content import prices
    from content.model import Entry, Product

    from . import images as imagelib
    from .plan import Job, Plan
    from .render import Renderer

# The model, the parser, the renderer, Jinja, Markdown, Pillow and the process pool are imported once a build knows it has work
# to do (see ``_build``): a fresh process that finds nothing changed is done before they would load.

# build-3: build.json lists the scripts, media types from decoding, files on disk recorded
# build-4: templates sandboxed; no page rendered before it may be reused (a site's own template may have
#          run code then, and what it printed must not stay published)
# build-5: products and variants carry compare_line and lowest_30d (the prior price rule)
# build-6: search.json and the search page; product pages know their related products and
#          delivery, the home page its collections
VERSION = "build-6"
SEARCH_INDEX = "search.json"  # read by the edge for /search/?q= and by search.js behind a CDN
PARSE_SAVE_EVERY = 30.0  # seconds between a long-lived builder's saves of the parse cache


@dataclass
class BuildConfig:
    source: Source
    out_dir: Path
    themes_dir: Path
    base_url: str = "http://localhost:8000"
    shop: bool = True
    analytics: bool = True  # the tenant's analytics feature: without it pages never load the beacon
    api_base: str = "/api"
    cache_dir: Path | None = None
    now: datetime | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    theme: str | None = None
    renamed: dict[str, list[str]] | None = None
    # The repository's price history, for the prior price rule (``prior_price_rule`` in site.yaml);
    # None for a folder without history, where the rule cannot be applied.
    price_history: prices.PriceHistory | None = None
    progress: Callable[[int, int], None] | None = None
    # A dict a long-lived caller (the dev server, a build worker) keeps between builds: caches
    # stay in memory and are written to disk in the background instead of reloaded each time.
    memory: dict | None = None
    # Rendered Markdown by content hash, shared by every build of the installation (every tenant's,
    # every output folder's: TESSERA_DATA_DIR/cache/markdown); None keeps it in cache_dir/markdown.
    markdown_cache: Path | None = None
    # Image derivatives by content, shared the same way (TESSERA_DATA_DIR/cache/images); None keeps
    # them in cache_dir/images.
    image_cache: Path | None = None


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    files: int
    rendered: int
    reused: int
    seconds: float
    catalog_version: str
    next_scheduled: datetime | None
    up_to_date: bool = False
    # What _tessera/manifest.json holds (path → sha256, size, type), so a publish need not read it
    # back. Shared with the builder's memory: never change it.
    manifest: dict[str, list] | None = field(default=None, repr=False, compare=False)


def build(config: BuildConfig) -> BuildResult:
    """Build ``config.source`` into ``config.out_dir``. Safe next to any other build, in threads or
    processes: builds of one output folder take turns, builds of different folders share nothing."""
    out_dir = Path(config.out_dir).resolve()
    memory = config.memory
    if memory is not None and memory.get("saving"):
        memory.pop("saving").join()  # the previous build's caches are on disk (and its lock let go)
    lock = OutputLock(out_dir)
    collector = _Collector(pause=memory is not None)
    try:
        return _build(config, out_dir, lock, collector)
    except BaseException:
        if memory is not None:
            memory.clear()  # whatever it held may not be what the folder holds now
        raise
    finally:
        collector.resume()
        if memory is None or "saving" not in memory:
            lock.release()  # else the saver lets it go once the caches are on disk


class _Collector:
    """Python's cyclic garbage collector, paused while a long-lived builder (a worker, the dev
    server) works out what an edit changed. That work allocates hundreds of thousands of small
    objects beside the site's kept state, and the collections they set off walk all of it: about a
    quarter of a one-page rebuild of 10,000 pages (0.45 s against 0.34 s paused). Rendering many pages
    resumes it (``RESUME_AT``): the pages' garbage must not pile up, nor pool workers inherit a
    paused collector. The collector is the process's; a build in another thread may resume it early,
    which costs only time."""

    RESUME_AT = 64  # pages to render

    def __init__(self, pause: bool) -> None:
        self.paused = pause and gc.isenabled()
        if self.paused:
            gc.disable()

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            gc.enable()


def _build(config: BuildConfig, out_dir: Path, lock: OutputLock, collector: _Collector) -> BuildResult:
    started = time.perf_counter()
    now = config.now or datetime.now(timezone.utc)
    recover(out_dir)
    memory = config.memory
    if (memory and "state" in memory and config.cache_dir is not None
            and _generation(config.cache_dir) != memory["state"].get("began")):
        memory.clear()  # another process built this folder since: what it saved is the truth
    state = memory["state"] if memory and "state" in memory else _load(config.cache_dir, "state")
    # Checking the output against the state (every file's size and time) is mostly waiting for the
    # file system: it runs beside fingerprinting the sources, parsing and planning.
    scanning = _Background(_on_disk, out_dir, state)
    signature = _signature(config)
    began = time.time_ns()
    modified_since = getattr(config.source, "modified_since", None)
    racy = modified_since(state["began"]) if modified_since and "began" in state else set()
    if (not racy and state.get("signature") == signature
            and (state.get("next_scheduled") is None or now < state["next_scheduled"])
            and scanning.result()[2]):
        if "dirs" not in state:  # recorded before folders were: record them, so next time a stat is enough
            state = {**state, "dirs": scanning.result()[1]}
            if memory is not None:
                memory["state"] = state
            _save(config.cache_dir, "state", state)
        return BuildResult(out_dir, len(state["manifest"]), 0, 0, time.perf_counter() - started,
                           state["catalog_version"], state["next_scheduled"], up_to_date=True,
                           manifest=state["manifest"])

    from content.parse import parse_site

    from . import markdown, parsecache, search
    from .plan import make_plan
    from .render import Renderer, Settings
    from .replan import Replanner
    from .theme import css_variables, load_theme, page_stylesheet, script, stylesheet

    parse_cache = memory["parse"] if memory and "parse" in memory else parsecache.load(config.cache_dir, VERSION)
    content = parse_site(config.source, cache=parse_cache if config.cache_dir else None, fresh=racy)
    errors: list[ContentError] = []
    if content.site.prior_price_rule and config.shop and config.price_history is not None:
        from content import prices  # and git's: for shops with the rule only

        priors = config.price_history.priors(content, now)
        errors += prices.check(content, priors)
        content = prices.with_lowest(content, priors)
    theme = load_theme(config.themes_dir, config.theme or content.site.theme, config.source,
                       config.cache_dir / "templates" if config.cache_dir else None)
    css = stylesheet(theme, config.source)
    css_url = f"/assets/site.{_short(css)}.css"
    static: dict[str, bytes | Path] = {css_url.lstrip("/"): css, "favicon.svg": _favicon(content.site)}
    scripts = {}
    if config.shop and (cart := script(theme, "cart.js")) is not None:
        scripts["cart"] = f"/assets/cart.{_short(cart)}.js"
        static[scripts["cart"].lstrip("/")] = cart
        if (checkout := script(theme, "checkout.js")) is not None:  # the checkout and order pages only
            scripts["checkout"] = f"/assets/checkout.{_short(checkout)}.js"
            static[scripts["checkout"].lstrip("/")] = checkout
    styles = {}
    if config.shop and (basket := page_stylesheet(theme, "basket.css")) is not None:
        styles["basket"] = f"/assets/basket.{_short(basket)}.css"
        static[styles["basket"].lstrip("/")] = basket
    if any(e.form for e in (*content.pages, *content.posts)) and (forms := script(theme, "forms.js")) is not None:
        scripts["forms"] = f"/assets/forms.{_short(forms)}.js"
        static[scripts["forms"].lstrip("/")] = forms
    if config.analytics and content.site.analytics_beacon and (beacon := script(theme, "beacon.js")) is not None:
        scripts["beacon"] = f"/assets/beacon.{_short(beacon)}.js"
        static[scripts["beacon"].lstrip("/")] = beacon
    if (finder := script(theme, "search.js")) is not None:
        scripts["search"] = f"/assets/search.{_short(finder)}.js"
        static[scripts["search"].lstrip("/")] = finder
    types: dict[str, str] = {}
    image_map = _media(content, config, static, errors, types=types)
    # A long-lived builder makes the next plan from its last one when the edit allows (see builder.replan).
    planner = memory.get("planner") if memory else None
    plan = planner.next(content, now, config.shop, config.renamed) if planner is not None else None
    if plan is None:
        plan = make_plan(content, now=now, shop=config.shop, renamed=config.renamed)
        errors += _duplicates(plan.jobs)  # a plan made from the last keeps its URLs, which were checked
        planner = Replanner(content, plan, now, config.shop, config.renamed) if memory is not None else None
    static[SEARCH_INDEX] = search.index([j.inputs[0] for j in plan.jobs if j.kind == "product"],
                                        [j.inputs[0] for j in plan.jobs if j.kind == "post"], image_map,
                                        memo=memory.setdefault("search", {}) if memory is not None else None)
    errors += plan.errors
    css_vars = css_variables(content.site, errors)
    if errors:
        raise BuildErrors(errors)

    settings = Settings(config.base_url.rstrip("/"), config.shop, config.api_base, css_url, css_vars, scripts,
                        config.markdown_cache or (config.cache_dir / "markdown" if config.cache_dir else None),
                        config.themes_dir, styles)
    renderer = Renderer(content, theme.env, plan, image_map, settings)
    digest = _Digester(parse_cache)
    global_key = digest((VERSION, markdown.VERSION, theme.digest, css_url, scripts, styles, content.site,
                         settings.base_url, config.shop, config.api_base))
    digest.remember(memory.get("fingerprints") if memory else None, global_key)
    on_disk, dirs, trusted = scanning.result()
    if not trusted:
        # The state describes another folder, or the folder is not what the last build left there
        # (files lost, changed or added since): trust none of it and build clean.
        state = {}
    previous_manifest = state.get("manifest", {})
    previous = state.get("records", {}) if previous_manifest else {}
    staging = staging_dir(out_dir)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        records, rendered = _render_all(plan.jobs, global_key, digest, previous, renderer, on_disk, staging,
                                         config, collector)
        manifest = _finish(staging, static, types, plan, records, previous_manifest, scripts)
        # Whatever the folder holds that the new build does not, recorded or not, goes.
        stale = [p for p in on_disk if p not in manifest and not (staging / p).exists()]
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    moved = commit(staging, out_dir, stale)
    new_state = {"out_dir": str(out_dir), "signature": signature, "began": began,
                 "next_scheduled": plan.next_scheduled, "records": records, "manifest": manifest,
                 "catalog_version": plan.catalog_version, "files": on_disk, "dirs": dirs}
    _rescan(out_dir, on_disk, dirs, moved, stale)  # both updated in place to what the commit left
    if memory is not None:
        memory.update(state=new_state, parse=parse_cache, fingerprints=digest.now, planner=planner)
        # The state is saved after every build: it says what the folder holds. The parse cache only
        # spares another process parsing again, and saving it takes most of the saver's time (and
        # the interpreter's lock): a long-lived builder saves it at most every PARSE_SAVE_EVERY
        # seconds, and a process that reads an older one parses again only what changed since.
        fresh = time.monotonic() - memory.get("parse_saved", float("-inf")) >= PARSE_SAVE_EVERY
        if fresh:
            memory["parse_saved"] = time.monotonic()
        saver = threading.Thread(target=_save_all, args=(config.cache_dir, new_state, parse_cache if fresh else None,
                                                         lock), daemon=True)
        memory["saving"] = saver
        saver.start()
    else:
        _save_all(config.cache_dir, new_state, parse_cache)
    return BuildResult(out_dir, len(manifest), rendered, len(plan.jobs) - rendered,
                       time.perf_counter() - started, plan.catalog_version, plan.next_scheduled, manifest=manifest)


# -- fingerprints and state -------------------------------------------------------------------


def _short(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]


class _Digester:
    """Stable digests of job inputs; entries and products hash once (from the parse cache).

    ``last``: a long-lived builder's fingerprints of its previous build, by output file, with the
    inputs they were taken of. A job whose inputs are the very same objects (an unchanged file's
    entry is the parse cache's object, build after build) keeps its fingerprint without encoding
    anything: the kept inputs stay referenced, so an identity never names another object."""

    def __init__(self, parse_cache: dict) -> None:
        from content.model import Entry, Product

        self._kinds = (Entry, Product)
        self.known = {id(entry[1]): entry[3] for entry in parse_cache.values()
                      if entry[1] is not None and len(entry) > 3}
        self.last: dict = {}
        self.now: dict = {}

    def remember(self, last: dict | None, global_key: bytes) -> None:
        """Reuse ``last`` (the previous build's ``now``) if it was taken under the same global key."""
        self.last = last if last is not None and last.get("") == global_key else {}
        self.now = {"": global_key}

    def __call__(self, value: object) -> bytes:
        return hashlib.blake2b(self._encode(value), digest_size=16).digest()

    def job(self, global_key: bytes, job: Job) -> bytes:
        file = job.file
        kept = self.last.get(file)
        if kept is not None and kept[0] == job.url and kept[1] == job.kind and _same(kept[2], job.inputs):
            self.now[file] = kept
            return kept[3]
        head = global_key + job.kind.encode() + b"\0" + job.url.encode() + b"\0"
        fingerprint = hashlib.blake2b(head + self._encode(job.inputs), digest_size=16).digest()
        self.now[file] = (job.url, job.kind, job.inputs, fingerprint)
        return fingerprint

    def _item(self, value: Entry | Product) -> bytes:
        known = self.known.get(id(value))
        if known is None:
            known = self.known[id(value)] = hashlib.blake2b(repr(value).encode(), digest_size=16).digest()
        return known

    def _encode(self, value: object) -> bytes:
        kind = type(value)
        Entry, Product = self._kinds
        if kind is Entry or kind is Product:
            return self._item(value)  # type: ignore[arg-type]
        if kind is tuple:
            known = self.known
            parts = []
            for item in value:  # type: ignore[union-attr]
                item_kind = type(item)
                if item_kind is Entry or item_kind is Product:
                    parts.append(known.get(id(item)) or self._item(item))
                elif item_kind is tuple and all(type(v) is str for v in item):
                    parts.append(repr(item).encode())
                else:
                    parts.append(self._encode(item))
            return b"(" + b",".join(parts) + b")"
        return repr(value).encode()


_PLAIN = frozenset({str, int, float, bool, bytes, type(None)})


def _same(before: object, now: object) -> bool:
    """The same inputs: the same entries and products (by identity: they are immutable and come from
    the parse cache), and equal plain values (strings, numbers, None) in the same tuples."""
    if before is now:
        return True
    kind = type(now)
    if kind is tuple:
        if type(before) is not tuple or len(before) != len(now):  # type: ignore[arg-type]
            return False
        for a, b in zip(before, now):  # type: ignore[call-overload]
            if a is b:
                continue  # an entry of a listing page, as a rule
            if type(b) is tuple:
                if not _same(a, b):
                    return False
            elif type(b) not in _PLAIN or type(a) is not type(b) or a != b:
                return False
        return True
    return kind in _PLAIN and type(before) is kind and before == now


def _signature(config: BuildConfig) -> str:
    """Changes whenever any input of the build could have: files, themes, settings."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(repr((VERSION, config.base_url, config.shop, config.analytics, config.api_base, config.theme,
                        sorted((config.renamed or {}).items()),
                        _price_key(config))).encode())
    for path in config.source.paths():
        digest.update(f"{path}\0{config.source.fingerprint(path)}\n".encode())
    for path in sorted(Path(config.themes_dir).rglob("*")):
        if path.is_file():
            digest.update(f"{path}\0".encode() + hashlib.blake2b(path.read_bytes(), digest_size=16).digest())
    return digest.hexdigest()


def _price_key(config: BuildConfig) -> str | None:
    """The price history's part of the signature, only where the build reads it (a shop whose
    site.yaml turns on the prior price rule): a push's check and the publish after it see the same
    commits as pending and then as landed, and must not differ for a site that never asks."""
    if config.price_history is None or not config.shop:
        return None
    import yaml

    try:
        settings = yaml.safe_load(config.source.read("site.yaml"))
    except Exception:  # unreadable here: the parse will say why; count the history in meanwhile
        return config.price_history.key
    if isinstance(settings, dict) and not settings.get("prior_price_rule"):
        return None
    return config.price_history.key


def _load(cache_dir: Path | None, name: str) -> dict:
    if cache_dir is None:
        return {}
    try:
        with open(cache_dir / f"{name}.pickle", "rb") as handle:
            data = pickle.load(handle)
        return data["data"] if data.get("version") == VERSION else {}
    except (FileNotFoundError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, KeyError,
            TypeError, ValueError):
        return {}


def _save_all(cache_dir: Path | None, state: dict, parse_cache: dict | None, lock: OutputLock | None = None) -> None:
    from . import parsecache

    try:
        _save(cache_dir, "state", state)
        if parse_cache is not None:
            parsecache.save(cache_dir, parse_cache, VERSION)
    finally:
        if lock is not None:
            lock.release()


def _on_disk(out_dir: Path, state: dict) -> tuple[dict[str, tuple[int, int]], dict[str, int], bool]:
    """The output's files and folders (as ``scan`` gives them), and whether they are what ``state``
    says the last build left there. When nothing changed, a stat of each is enough to know."""
    ours = state.get("out_dir") == str(out_dir)
    if ours and "dirs" in state and unchanged(out_dir, state["files"], state["dirs"]):
        return dict(state["files"]), dict(state["dirs"]), True
    dirs: dict[str, int] = {}
    files = scan(out_dir, dirs)
    return files, dirs, ours and state.get("files") == files


class _Background:
    """``func(*args)`` in a thread of its own; ``result()`` waits for it (and raises what it raised)."""

    def __init__(self, func: Callable, *args: object) -> None:
        self._outcome: tuple[bool, object] | None = None

        def run() -> None:
            try:
                self._outcome = (True, func(*args))
            except BaseException as exc:  # handed to whoever waits for the result
                self._outcome = (False, exc)

        self._thread = threading.Thread(target=run, name=f"build-{func.__name__}", daemon=True)
        self._thread.start()

    def result(self):
        self._thread.join()
        assert self._outcome is not None
        ok, value = self._outcome
        if not ok:
            raise value  # type: ignore[misc]
        return value


def _rescan(out_dir: Path, files: dict[str, tuple[int, int]], dirs: dict[str, int], moved: list[str] | None,
            deleted: list[str]) -> None:
    """Bring ``files`` and ``dirs`` from before a commit to what ``scan`` would find after it, looking
    only at what the commit moved in or deleted, and their folders (everything after a first build)."""
    if moved is None:
        dirs.clear()
        files.clear()
        files.update(scan(out_dir, dirs))
        return
    folders: set[str] = set()
    for rel in deleted:
        files.pop(rel, None)
    for rel in (*moved, *deleted):
        while "/" in rel:
            rel = rel.rsplit("/", 1)[0]
            folders.add(rel)
        folders.add("")
    for rel in moved:
        stat = os.stat(out_dir / rel, follow_symlinks=False)
        files[rel] = (stat.st_size, stat.st_mtime_ns)
    for rel in folders:
        try:
            dirs[rel] = os.stat(out_dir / rel).st_mtime_ns
        except FileNotFoundError:  # emptied and pruned
            dirs.pop(rel, None)


def _save(cache_dir: Path | None, name: str, data: dict) -> None:
    if cache_dir is None:
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as handle:
        pickle.dump({"version": VERSION, "data": data}, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, cache_dir / f"{name}.pickle")
    if name == "state":
        # Which build saved it, in a file cheap to read: a long-lived builder holding the state in
        # memory checks it before trusting its copy (a git push's check builds in another process).
        (cache_dir / "state.generation").write_text(str(data.get("began")))


def _generation(cache_dir: Path | None) -> int | None:
    """The ``began`` of the build whose state is on disk (None when unknown)."""
    if cache_dir is None:
        return None
    try:
        return int((cache_dir / "state.generation").read_text())
    except (OSError, ValueError):
        return None


def _favicon(site) -> bytes:
    """A small monogram icon in the site's primary colour, so browsers never ask for a missing one."""
    from html import escape

    from .theme import _COLOR

    colour = (site.theme_settings.get("colors") or {}).get("primary", "#1f3a5f")
    colour = colour if isinstance(colour, str) and _COLOR.match(colour) else "#1f3a5f"
    initial = escape((site.name.strip()[:1] or "T").upper())
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" '
            f'fill="{colour}"/><text x="32" y="44" font-size="36" text-anchor="middle" fill="#fff" '
            f'font-family="Georgia, serif">{initial}</text></svg>').encode()


def _duplicates(jobs: tuple[Job, ...]) -> list[ContentError]:
    seen: dict[str, Job] = {}
    errors = []
    for job in jobs:
        if job.file in seen:
            errors.append(ContentError(_origin(job), None, f"{job.url} is also produced by {_origin(seen[job.file])}"))
        seen[job.file] = job
    return errors


def _origin(job: Job) -> str:
    item = job.inputs[0] if job.inputs else None
    return getattr(item, "path", None) or f"the {job.kind} page"


# -- media ------------------------------------------------------------------------------------


def _media(content, config: BuildConfig, static: dict, errors: list[ContentError],
           memo: dict | None = None, types: dict[str, str] | None = None) -> dict[str, imagelib.ImageInfo]:
    """Image infos and output files for every medium, and each file's type (from its decoded format)
    in ``types``. Anything under media/ that is not a JPEG, PNG or WebP image within the pixel limit
    is an error: content reaches a repository by push and import too, not only by checked uploads.
    ``memo`` (kept by a long-lived caller such as the admin's preview) remembers processed images by
    fingerprint, so they are not read again."""
    if not content.media:
        return {}  # nor Pillow to import
    from content.media import MediaError, check_name

    from . import images as imagelib

    out = Path(config.out_dir)
    image_cache = config.image_cache or (config.cache_dir or out.parent / f".{out.name}.cache") / "images"
    infos = {}
    for medium in content.media:
        try:
            check_name(medium.path)
        except MediaError as exc:
            errors.append(ContentError(medium.path, None, str(exc).removeprefix(medium.path).lstrip(": ")))
            continue
        key = (image_cache, medium.name, config.source.fingerprint(medium.path)) if memo is not None else None
        if memo is not None and key in memo:
            info, files = memo[key]
        else:
            try:
                info, files = imagelib.process(medium.name, config.source.read(medium.path), image_cache)
            except imagelib.ImageError as exc:
                errors.append(ContentError(medium.path, None, str(exc)))
                continue
            if memo is not None:
                memo[key] = (info, files)
        infos[medium.name] = info
        static.update(files)
        if types is not None:
            types[f"media/{medium.name}"] = info.media_type
            types.update({v.url.lstrip("/"): f"image/{v.format}" for v in info.variants})
    return infos


# -- rendering --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Work:
    """One build's rendering: the renderer, where pages go, and what to render (by index)."""

    renderer: Renderer
    staging: Path
    todo: list[tuple[Job, bytes]]


def _render_all(jobs, global_key: bytes, digest: _Digester, previous: dict, renderer: Renderer,
                on_disk: dict, staging: Path, config: BuildConfig, collector: _Collector) -> tuple[dict, int]:
    records: dict[str, tuple] = {}
    todo: list[tuple[Job, bytes]] = []
    for job in jobs:
        fingerprint = digest.job(global_key, job)
        old = previous.get(job.file)
        if old and old[0] == fingerprint and _deps_valid(old[1], renderer) and job.file in on_disk:
            records[job.file] = old
        else:
            todo.append((job, fingerprint))
    errors: list[ContentError] = []
    total = len(todo)
    if total >= collector.RESUME_AT:
        collector.resume()
    if config.progress:
        config.progress(0, total)
    work = _Work(renderer, staging, todo)
    if config.workers > 1 and total >= 64:
        size = max(8, total // (config.workers * 8))
        chunks = [range(i, min(i + size, total)) for i in range(0, total, size)]
        with _frozen_heap(), _pool(work, config.workers) as pool:
            for done, (results, chunk_errors) in enumerate(pool.map(_render_assigned, chunks), start=1):
                records.update(results)
                errors += chunk_errors
                if config.progress:
                    config.progress(min(done * size, total), total)
    else:
        for index in range(total):
            results, chunk_errors = _render_chunk(work, range(index, index + 1))
            records.update(results)
            errors += chunk_errors
            if config.progress:
                config.progress(index + 1, total)
    if errors:
        raise BuildErrors(errors)
    return records, total


# -- worker processes -------------------------------------------------------------------------
#
# Workers are forked after the renderer is built, so they share it without pickling and only
# indices travel. Each build gets a pool of its own, and its work reaches the workers as the pool
# initializer's argument, which fork copies into the child as it is at that moment: a build in
# another thread can neither swap it nor clear it.

_assigned: _Work | None = None  # set in a pool worker only, which serves one build for its life
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Everything the build holds so far (the content, the plan, the renderer) out of the garbage
    collector's sight while workers are forked from it: a collection in a worker would otherwise walk
    (and so copy, page by page) the whole inherited heap, again and again, slower the bigger the site
    (4,000 posts: rendering took 13.1 s with the Markdown cache warm, 2.4 s frozen). The collector's
    state is the process's: a build in another thread may unfreeze early, which costs time only."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def __getattr__(name: str):
    # concurrent.futures costs a no-change build more than its own work: imported on first use.
    if name == "ProcessPoolExecutor":
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _pool(work: _Work, workers: int) -> ProcessPoolExecutor:
    import multiprocessing

    executor = globals().get("ProcessPoolExecutor") or __getattr__("ProcessPoolExecutor")  # tests replace it
    return executor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_start_worker, initargs=(work, os.getpid()))


def _start_worker(work: _Work, parent: int) -> None:
    global _assigned
    _die_with_parent(parent)
    _assigned = work


def _render_assigned(indices: range) -> tuple[dict, list[ContentError]]:
    assert _assigned is not None, "rendering outside a build's worker"
    return _render_chunk(_assigned, indices)


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive the build that forked it. If the build is killed, nobody tells
    its workers to stop, and each one holds the other end of its own pipes: they would wait for
    work forever (and keep the source's git process and every inherited file open)."""
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: watch for the parent going away instead
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    else:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # the kernel kills us when the forking thread ends
    if os.getppid() != parent:  # the parent died before we asked
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _render_chunk(work: _Work, indices: range) -> tuple[dict, list[ContentError]]:
    results, errors = {}, []
    for index in indices:
        job, fingerprint = work.todo[index]
        try:
            data, deps = work.renderer.render(job)
        except ContentErrors as exc:
            errors += exc.errors
            continue
        write_new(work.staging / job.file, data)
        results[job.file] = (fingerprint, deps, hashlib.sha256(data).hexdigest(), len(data))
    return results, errors


def _deps_valid(deps: frozenset, renderer: Renderer) -> bool:
    for dep in deps:
        if dep[0] == "media":
            if repr(renderer.images.get(dep[1])) != dep[2]:
                return False
        elif dep[0] == "ref":
            kind, slug, was_live = dep[1], dep[2], dep[3]
            key = (kind, urls.slugify(slug) if kind in ("tag", "category") else slug)
            if (key in renderer.plan.live) != was_live:
                return False
    return True


# -- finishing --------------------------------------------------------------------------------


def _finish(staging: Path, static: dict, types: dict[str, str], plan: Plan, records: dict, previous: dict,
            scripts: dict[str, str]) -> dict:
    """Stage static files and metadata; returns the new manifest (path → sha256, size, type). A
    file's type is the one recorded in ``types`` (media: from the decoded image), else by extension."""
    manifest: dict[str, list] = {}
    for rel, (_, _, sha, size) in records.items():
        entry = previous.get(rel)  # a page that did not change keeps its entry (manifests are never changed)
        manifest[rel] = entry if entry is not None and entry[0] == sha and entry[1] == size else [sha, size, _type(rel)]
    for rel, data in sorted(static.items()):
        kind = types.get(rel) or _type(rel)
        if isinstance(data, Path) and rel in previous and rel.startswith(("media/", "assets/")) and rel.count(".") >= 2:
            manifest[rel] = [*previous[rel][:2], kind]  # a fingerprinted name: same name, same bytes
            continue
        raw = data.read_bytes() if isinstance(data, Path) else data
        entry = [hashlib.sha256(raw).hexdigest(), len(raw), kind]
        manifest[rel] = entry
        if previous.get(rel) == entry:
            continue  # already in the output, byte for byte
        if isinstance(data, Path):
            link_or_copy(data, staging / rel)
        else:
            write_new(staging / rel, data)
    netlify = "".join(f"{s} {t} {code}\n" for s, t, code in plan.redirects).encode()
    manifest["_redirects"] = [hashlib.sha256(netlify).hexdigest(), len(netlify), "text/plain; charset=utf-8"]
    if previous.get("_redirects") != manifest["_redirects"]:
        write_new(staging / "_redirects", netlify)
    meta = staging / META
    write_new(meta / "catalog.json", _json(plan.catalog))
    write_new(meta / "redirects.json", _json([{"from": s, "to": t, "status": c} for s, t, c in plan.redirects]))
    write_new(meta / "build.json", _json({
        "catalog_version": plan.catalog_version,
        "next_scheduled": plan.next_scheduled.isoformat() if plan.next_scheduled else None,
        # The only scripts pages may run: the edge's Content-Security-Policy lists exactly these.
        "scripts": sorted(scripts.values()),
        # The pages send a beacon for each view (site.yaml's analytics.beacon): the edge counts none.
        "beacon": "beacon" in scripts,
    }))
    ordered = dict(sorted(manifest.items()))
    write_new(meta / "manifest.json", _json(ordered))
    return ordered


def _json(data) -> bytes:
    from content import jsonio

    return jsonio.dumps(data)


def _type(rel: str) -> str:
    return _type_of_extension(os.path.splitext(rel)[1].lower())


@functools.lru_cache(maxsize=256)
def _type_of_extension(ext: str) -> str:
    import mimetypes

    kind = mimetypes.guess_type("x" + ext)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/xml", "application/json", "application/javascript",
                                           "image/svg+xml", "application/atom+xml"):
        kind += "; charset=utf-8"
    return kind
