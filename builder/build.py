"""Build a site: parse, plan, render what changed, write a fresh folder, swap it in.

Every output records a fingerprint of its inputs and the links and images it looked up; a rebuild
re-renders only outputs whose fingerprint or dependencies changed and hard-links the rest from the
previous output. The new folder replaces the old one only when everything succeeded, so a failed
or killed build leaves the previous output as it was.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import multiprocessing
import os
import pickle
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from content.errors import ContentError, ContentErrors
from content.parse import parse_site
from content.source import Source

from . import images as imagelib
from . import markdown, urls
from .errors import BuildErrors
from .plan import Job, Plan, make_plan
from .render import Renderer, Settings
from .theme import css_variables, load_theme, script, stylesheet

VERSION = "build-1"
META = "_tessera"  # build metadata inside the output: manifest, catalog, redirects; never served


@dataclass
class BuildConfig:
    source: Source
    out_dir: Path
    themes_dir: Path
    base_url: str = "http://localhost:8000"
    shop: bool = True
    api_base: str = "/api"
    cache_dir: Path | None = None
    now: datetime | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    theme: str | None = None
    renamed: dict[str, list[str]] | None = None
    progress: Callable[[int, int], None] | None = None


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


def build(config: BuildConfig) -> BuildResult:
    started = time.perf_counter()
    now = config.now or datetime.now(timezone.utc)
    out_dir = Path(config.out_dir).resolve()
    _recover(out_dir)
    state = _load_state(config.cache_dir)
    signature = _signature(config)
    if (state.get("signature") == signature and (out_dir / META / "manifest.json").exists()
            and (state.get("next_scheduled") is None or now < state["next_scheduled"])):
        manifest = state["manifest"]
        return BuildResult(out_dir, len(manifest), 0, 0, time.perf_counter() - started,
                           state["catalog_version"], state["next_scheduled"], up_to_date=True)

    parse_cache = state.get("parse", {})
    content = parse_site(config.source, cache=parse_cache)
    errors: list[ContentError] = []
    theme = load_theme(config.themes_dir, config.theme or content.site.theme, config.source)
    css = stylesheet(theme, config.source)
    css_url = f"/assets/site.{_short(css)}.css"
    static: dict[str, bytes | Path] = {css_url.lstrip("/"): css}
    scripts = {}
    if config.shop:
        cart = script(theme, "cart.js")
        if cart is not None:
            scripts["cart"] = f"/assets/cart.{_short(cart)}.js"
            static[scripts["cart"].lstrip("/")] = cart
    image_map = _media(content, config, static, errors)
    plan = make_plan(content, now=now, shop=config.shop, renamed=config.renamed)
    errors += plan.errors
    errors += _duplicates(plan.jobs)
    css_vars = css_variables(content.site, errors)
    if errors:
        raise BuildErrors(errors)

    settings = Settings(config.base_url.rstrip("/"), config.shop, config.api_base, css_url, css_vars, scripts,
                        config.cache_dir / "markdown" if config.cache_dir else None, config.themes_dir)
    renderer = Renderer(content, theme.env, plan, image_map, settings)
    global_key = hashlib.blake2b(repr((VERSION, markdown.VERSION, theme.digest, css_url, scripts,
                                       content.site, settings.base_url, config.shop, config.api_base)).encode(),
                                 digest_size=16).digest()
    previous = state.get("records", {}) if out_dir.exists() else {}
    staging = out_dir.parent / f".{out_dir.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        records, rendered = _render_all(plan.jobs, global_key, previous, renderer, out_dir, staging, config)
        manifest = _finish(staging, out_dir, static, plan, records)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap(staging, out_dir)
    _save_state(config.cache_dir, {
        "signature": signature, "next_scheduled": plan.next_scheduled, "records": records,
        "manifest": manifest, "catalog_version": plan.catalog_version, "parse": parse_cache,
    })
    return BuildResult(out_dir, len(manifest), rendered, len(plan.jobs) - rendered,
                       time.perf_counter() - started, plan.catalog_version, plan.next_scheduled)


# -- fingerprints and state -------------------------------------------------------------------


def _short(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]


def _signature(config: BuildConfig) -> str:
    """Changes whenever any input of the build could have: files, themes, settings."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(repr((VERSION, config.base_url, config.shop, config.api_base, config.theme,
                        sorted((config.renamed or {}).items()))).encode())
    for path in config.source.paths():
        digest.update(f"{path}\0{config.source.fingerprint(path)}\n".encode())
    for path in sorted(Path(config.themes_dir).rglob("*")):
        if path.is_file():
            digest.update(f"{path}\0".encode() + hashlib.blake2b(path.read_bytes(), digest_size=16).digest())
    return digest.hexdigest()


def _load_state(cache_dir: Path | None) -> dict:
    if cache_dir is None:
        return {}
    try:
        with open(cache_dir / "state.pickle", "rb") as handle:
            state = pickle.load(handle)
        return state if state.get("version") == VERSION else {}
    except (FileNotFoundError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return {}


def _save_state(cache_dir: Path | None, state: dict) -> None:
    if cache_dir is None:
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".state.{os.getpid()}.tmp"
    with open(tmp, "wb") as handle:
        pickle.dump({"version": VERSION, **state}, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, cache_dir / "state.pickle")


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


def _media(content, config: BuildConfig, static: dict, errors: list[ContentError]) -> dict[str, imagelib.ImageInfo]:
    image_cache = (config.cache_dir or config.out_dir.parent / f".{config.out_dir.name}.cache") / "images"
    infos = {}
    for medium in content.media:
        data = config.source.read(medium.path)
        ext = medium.path.rsplit(".", 1)[-1].lower()
        if ext in imagelib.RASTER:
            try:
                info, files = imagelib.process(medium.name, data, image_cache)
            except imagelib.ImageError as exc:
                errors.append(ContentError(medium.path, None, str(exc)))
                continue
            infos[medium.name] = info
            static.update(files)
        else:
            if ext == "svg" and (problem := imagelib.check_svg(data)):
                errors.append(ContentError(medium.path, None, problem))
                continue
            static[medium.path] = data
    return infos


# -- rendering --------------------------------------------------------------------------------

_WORKER: dict = {}


def _render_all(jobs, global_key: bytes, previous: dict, renderer: Renderer, out_dir: Path, staging: Path,
                config: BuildConfig) -> tuple[dict, int]:
    records: dict[str, tuple] = {}
    todo: list[tuple[Job, bytes]] = []
    for job in jobs:
        fingerprint = hashlib.blake2b(global_key + repr((job.kind, job.url, job.inputs)).encode(),
                                      digest_size=16).digest()
        old = previous.get(job.file)
        if old and old[0] == fingerprint and _deps_valid(old[1], renderer) and _link(out_dir, staging, job.file):
            records[job.file] = old
        else:
            todo.append((job, fingerprint))
    errors: list[ContentError] = []
    done = 0
    total = len(todo)
    if config.progress:
        config.progress(0, total)
    if config.workers > 1 and total >= 64:
        _WORKER.update(renderer=renderer, staging=staging)
        size = max(8, total // (config.workers * 8))
        chunks = [todo[i:i + size] for i in range(0, total, size)]
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=config.workers, mp_context=context) as pool:
            for results, chunk_errors in pool.map(_render_chunk, chunks):
                records.update(results)
                errors += chunk_errors
                done += len(results) + len(chunk_errors)
                if config.progress:
                    config.progress(min(done, total), total)
        _WORKER.clear()
    else:
        _WORKER.update(renderer=renderer, staging=staging)
        for job_and_fp in todo:
            results, chunk_errors = _render_chunk([job_and_fp])
            records.update(results)
            errors += chunk_errors
            done += 1
            if config.progress:
                config.progress(done, total)
        _WORKER.clear()
    if errors:
        raise BuildErrors(errors)
    return records, total


def _render_chunk(chunk: list[tuple[Job, bytes]]) -> tuple[dict, list[ContentError]]:
    renderer: Renderer = _WORKER["renderer"]
    staging: Path = _WORKER["staging"]
    results, errors = {}, []
    for job, fingerprint in chunk:
        try:
            data, deps = renderer.render(job)
        except ContentErrors as exc:
            errors += exc.errors
            continue
        _write(staging / job.file, data)
        results[job.file] = (fingerprint, deps, hashlib.sha256(data).hexdigest(), len(data))
    return results, errors


def _deps_valid(deps: frozenset, renderer: Renderer) -> bool:
    for dep in deps:
        if dep[0] == "media":
            if repr(renderer.images.get(dep[1])) != dep[2]:
                return False
        elif dep[0] == "ref":
            kind, slug, was_live = dep[1], dep[2], dep[3]
            key = (kind, slug) if kind not in ("tag", "category") else (kind, urls.slugify(slug))
            if (key in renderer.plan.live) != was_live:
                return False
    return True


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as handle:  # "x": two outputs can never claim one file
        handle.write(data)


def _link(out_dir: Path, staging: Path, rel: str) -> bool:
    source = out_dir / rel
    target = staging / rel
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
        return True
    except FileNotFoundError:
        return False
    except OSError:
        try:
            shutil.copy2(source, target)
            return True
        except OSError:
            return False


# -- finishing --------------------------------------------------------------------------------


def _finish(staging: Path, out_dir: Path, static: dict, plan: Plan, records: dict) -> dict:
    manifest: dict[str, list] = {}
    for rel, (_, _, sha, size) in records.items():
        manifest[rel] = [sha, size, _type(rel)]
    for rel, data in sorted(static.items()):
        target = staging / rel
        if isinstance(data, Path):
            if not _link_file(data, target):
                raise BuildErrors([ContentError(rel, None, "could not be copied from the build cache")])
            raw = data.read_bytes()
        else:
            _write(target, data)
            raw = data
        manifest[rel] = [hashlib.sha256(raw).hexdigest(), len(raw), _type(rel)]
    redirects = [{"from": s, "to": t, "status": code} for s, t, code in plan.redirects]
    netlify = "".join(f"{s} {t} {code}\n" for s, t, code in plan.redirects)
    _write(staging / "_redirects", netlify.encode())
    manifest["_redirects"] = [hashlib.sha256(netlify.encode()).hexdigest(), len(netlify.encode()), "text/plain"]
    meta = staging / META
    _write(meta / "catalog.json", _json(plan.catalog))
    _write(meta / "redirects.json", _json(redirects))
    _write(meta / "build.json", _json({
        "catalog_version": plan.catalog_version,
        "next_scheduled": plan.next_scheduled.isoformat() if plan.next_scheduled else None,
    }))
    ordered = dict(sorted(manifest.items()))
    _write(meta / "manifest.json", _json(ordered))
    return ordered


def _link_file(source: Path, target: Path) -> bool:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        try:
            shutil.copyfile(source, target)
        except OSError:
            return False
    return True


def _json(data) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def _type(rel: str) -> str:
    kind = mimetypes.guess_type(rel)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/xml", "application/json", "application/javascript",
                                           "image/svg+xml", "application/atom+xml"):
        kind += "; charset=utf-8"
    return kind


def _swap(staging: Path, out_dir: Path) -> None:
    """Replace the output folder with the staged one: two renames, recoverable by ``_recover``."""
    old = out_dir.parent / f".{out_dir.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        os.rename(out_dir, old)
    os.rename(staging, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _recover(out_dir: Path) -> None:
    """After a crash between the two renames of ``_swap``, put the previous output back."""
    old = out_dir.parent / f".{out_dir.name}.old"
    if old.exists() and not out_dir.exists():
        os.rename(old, out_dir)
    if out_dir.parent.exists():
        for stale in out_dir.parent.glob(f".{out_dir.name}.staging-*"):
            pid = stale.name.rsplit("-", 1)[-1]
            if not pid.isdigit() or not _alive(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
