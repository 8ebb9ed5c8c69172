"""Render one job: its template, its context, and the dependencies it looked up on the way.

Links (``page:about``) and images resolved during a render are recorded as dependencies, so an
incremental build knows to redo this output when one of them changes.
"""

from __future__ import annotations

import html
import os
import pickle
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
from jinja2.exceptions import SecurityError
from markupsafe import Markup

from content.errors import ContentError
from content.model import Content, Entry, Product
from content.money import Money, display

from . import markdown, seo, urls
from .errors import BuildErrors
from .plan import Job, Plan

if TYPE_CHECKING:  # Pillow loads only when a site has images
    from .images import ImageInfo

SANDBOX_HINT = ("theme templates run in a sandbox, which refuses attributes that start with an underscore "
                "and changes to the site's data (docs/themes.md)")
LINK_BUILDERS = {"page": urls.page, "post": urls.post, "product": urls.product, "tag": urls.tag,
                 "category": urls.category}


def money(value: Money | None) -> str:
    return display(value)


def long_date(value) -> str:
    return f"{value.day} {value.strftime('%B %Y')}" if value else ""


@dataclass
class Settings:
    base_url: str  # canonical origin, e.g. https://shop.example.com (no trailing slash)
    shop: bool
    api_base: str
    css_url: str
    css_vars: str
    scripts: dict[str, str]  # logical name → fingerprinted URL
    md_cache: Path | None
    themes_root: Path
    styles: dict[str, str] = field(default_factory=dict)  # page stylesheets: logical name → fingerprinted URL


@dataclass
class Renderer:
    content: Content
    env: jinja2.Environment
    plan: Plan
    images: dict[str, ImageInfo]
    settings: Settings
    deps: set = field(default_factory=set)

    def __post_init__(self) -> None:
        g = self.env.globals
        g.update(urls=urls.for_templates(), image=self.image, link=self.link, summary=self.summary, money=money,
                 media_alt=self.media_alt, byline=self.byline,
                 site=self.content.site, base_url=self.settings.base_url, shop=self.settings.shop,
                 api_base=self.settings.api_base, css_url=self.settings.css_url,
                 css_vars=Markup(self.settings.css_vars), scripts=self.settings.scripts,
                 styles=self.settings.styles)
        self.env.filters.update(money=money, long_date=long_date, json_ld=seo.json_ld)

    # -- lookups that record dependencies ---------------------------------------------------

    def image(self, name: str | None) -> ImageInfo | None:
        if not name:
            return None
        name = name.removeprefix("media/")
        info = self.images.get(name)
        self.deps.add(("media", name, repr(info)))
        return info

    def byline(self, entry: Entry) -> str:
        """Who wrote it: the post's ``author``, else the site's, else whoever committed it (a person's name
        when edited in the admin; a site imported or seeded by the platform should set ``author``)."""
        return entry.author or self.content.site.author or entry.created_by or ""

    def media_alt(self, name: str) -> str:
        medium = self.content.medium(name)
        return medium.alt if medium else ""

    def link(self, kind: str, slug: str) -> str | None:
        key = (kind, urls.slugify(slug) if kind in ("tag", "category") else slug)
        live = key in self.plan.live
        self.deps.add(("ref", kind, slug, live))
        return LINK_BUILDERS[kind](slug) if live else None

    def summary(self, item: Entry | Product, limit: int = 160) -> str:
        return seo.summary(item.excerpt, item.body, limit)

    def body(self, item: Entry | Product) -> Markup:
        key = markdown.cache_key(item.body)
        rendered = self._cached(key)
        if rendered is None:
            rendered = markdown.render(item.body, 0)
            self._store(key, rendered)
        shift = item.body_line
        shifted = markdown.Rendered(rendered.html, tuple((k, s, n + shift) for k, s, n in rendered.refs),
                                    tuple((m, n + shift) for m, n in rendered.media))
        out, errors = markdown.resolve(shifted, item.path, self.link, self._inline_image)
        form = getattr(item, "form", None)
        lines = [n + shift for n in rendered.forms]
        if lines and form is None:
            errors.append(ContentError(item.path, lines[0], "{{< form >}} places a form, but the front matter "
                                                            "declares none (add form: with at least a name)"))
        errors += [ContentError(item.path, n, "the form is already placed above; remove this {{< form >}}")
                   for n in lines[1:]]
        if errors:
            raise BuildErrors(errors)
        return Markup(out)

    def with_form(self, body: Markup, entry: Entry, url: str) -> Markup:
        """The body with the entry's form where its shortcode is, or after the body; the form's
        HTML comes from the theme's ``partials/form.html`` alone, never from the Markdown."""
        if entry.form is None:
            return Markup(body.replace(markdown.FORM_MARK, ""))
        form = Markup(self.env.get_template("partials/form.html").render(
            form=entry.form, action=f"{self.settings.api_base.rstrip('/')}/forms/{entry.form.name}", page_url=url))
        if markdown.FORM_MARK in body:
            return Markup(body.replace(markdown.FORM_MARK, form, 1))
        return Markup(body + form)

    def _inline_image(self, name: str, alt: str, title: str) -> str | None:
        info = self.image(name)
        if info is None:
            return None
        template = self.env.get_template("partials/picture.html")
        return template.render(img=info, alt=html.unescape(alt), sizes="(min-width: 48rem) 46rem, 100vw",
                               lazy=True, title=html.unescape(title)).strip()

    def _cached(self, key: str) -> markdown.Rendered | None:
        if self.settings.md_cache is None:
            return None
        path = self.settings.md_cache / key[:2] / f"{key}.pickle"
        try:
            return pickle.loads(path.read_bytes())
        except (FileNotFoundError, EOFError, pickle.UnpicklingError):
            return None

    def _store(self, key: str, rendered: markdown.Rendered) -> None:
        if self.settings.md_cache is None:
            return
        path = self.settings.md_cache / key[:2] / f"{key}.pickle"
        path.parent.mkdir(parents=True, exist_ok=True)
        # The cache is shared by the installation's builds, in threads and processes: a file of our own, then a rename.
        tmp = path.with_name(f".{key}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(pickle.dumps(rendered, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)

    # -- rendering --------------------------------------------------------------------------

    def render(self, job: Job) -> tuple[bytes, frozenset]:
        self.deps = set()
        try:
            context = getattr(self, f"_ctx_{job.kind}")(*job.inputs)
            context.setdefault("meta", {})
            context["meta"].setdefault("canonical", self.settings.base_url + job.url)
            context["current_url"] = job.url
            text = self.env.get_template(job.template).render(context)
        except BuildErrors:
            raise
        except jinja2.TemplateError as exc:
            raise BuildErrors([self._template_error(exc)]) from None
        except Exception as exc:
            # Python's own errors raised by a template's expression ({{ 1 // 0 }}, the sandbox's
            # OverflowError for a huge range) are the template's to fix; anything else is ours.
            error = self._template_error(exc)
            if error is None:
                raise
            raise BuildErrors([error]) from None
        return text.encode(), frozenset(self.deps)

    def _template_error(self, exc: Exception) -> ContentError | None:
        if isinstance(exc, jinja2.TemplateSyntaxError):
            return ContentError(self._rel(exc.filename or exc.name or "?"), exc.lineno, exc.message or str(exc))
        if isinstance(exc, SecurityError):
            message = f"{str(exc.message or exc).rstrip('.')}: {SANDBOX_HINT}"
        elif isinstance(exc, jinja2.TemplateNotFound):  # its message is the bare name
            message = f"there is no template {exc.name!r} in the site's theme/templates/, the theme or base"
        elif isinstance(exc, jinja2.TemplateError):
            message = str(exc.message or exc)
        else:
            message = f"{exc} ({type(exc).__name__})"
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.endswith((".html", ".xml", ".txt")):
                return ContentError(self._rel(frame.filename), frame.lineno, message)
        return ContentError("theme", None, message) if isinstance(exc, jinja2.TemplateError) else None

    def _rel(self, filename: str) -> str:
        try:
            return str(Path(filename).relative_to(self.settings.themes_root.parent))
        except ValueError:
            return filename

    def _meta(self, title: str, description: str = "", og_type: str = "website",
              image: ImageInfo | None = None, json_ld: list | None = None) -> dict:
        site = self.content.site
        return {"title": title, "description": description or site.description or site.tagline,
                "og_type": og_type, "image": self.settings.base_url + image.src(1600) if image else "",
                "json_ld": json_ld or []}

    def _crumbs(self, *trail: tuple[str, str]) -> dict:
        return seo.breadcrumbs(self.settings.base_url, [("Home", "/"), *trail])

    # Each _ctx_<kind> takes a job's inputs and returns the template's context.

    def _ctx_home(self, intro: Entry | None, featured, posts, version: str, collections=()) -> dict:
        site = self.content.site
        logo = self.image(site.theme_settings.get("logo"))
        hero = (site.theme_settings.get("hero") or (intro.image if intro else None)
                or next((p.images[0] for p in featured if p.images), None)
                or next((p.image for p in posts if p.image), None))
        org = seo.organization(site.name, self.settings.base_url, logo.src(480) if logo else None)
        meta = self._meta(intro.meta_title or site.name if intro else site.name,
                          intro.meta_description if intro else "", json_ld=[org])
        return {"meta": meta, "intro": intro, "intro_html": self.with_form(self.body(intro), intro, "/") if intro else "",
                "form_script": bool(intro and intro.form),
                "featured": featured, "posts": posts, "catalog_version": version, "hero_image": hero,
                "collections": collections if self.settings.shop else ()}

    def _ctx_page(self, page: Entry) -> dict:
        image = self.image(page.image)
        meta = self._meta(page.meta_title or page.title, page.meta_description or self.summary(page),
                          image=image, json_ld=[self._crumbs((page.title, urls.page(page.slug)))])
        return {"meta": meta, "entry": page, "body": self.with_form(self.body(page), page, urls.page(page.slug)),
                "image_info": image, "form_script": page.form is not None}

    def _ctx_post(self, post: Entry) -> dict:
        image = self.image(post.image)
        url = urls.post(post.slug)
        meta = self._meta(post.meta_title or post.title, post.meta_description or self.summary(post), "article",
                          image, [seo.article(post, self.settings.base_url, url, image.src(1600) if image else None,
                                              self.byline(post)),
                                  self._crumbs(("Journal", urls.blog()), (post.title, url))])
        return {"meta": meta, "entry": post, "body": self.with_form(self.body(post), post, url), "image_info": image,
                "form_script": post.form is not None}

    def _ctx_blog(self, number: int, total: int, posts) -> dict:
        title = "Journal" if number == 1 else f"Journal, page {number} of {total}"
        return {"meta": self._meta(title), "posts": posts, "number": number, "total": total,
                "previous_url": urls.blog(number - 1) if number > 1 else "",
                "next_url": urls.blog(number + 1) if number < total else ""}

    def _ctx_tag(self, name: str, number: int, total: int, posts) -> dict:
        title = f"Posts tagged “{name}”" + (f", page {number} of {total}" if number > 1 else "")
        return {"meta": self._meta(title), "tag": name, "posts": posts, "number": number, "total": total,
                "previous_url": urls.tag(name, number - 1) if number > 1 else "",
                "next_url": urls.tag(name, number + 1) if number < total else ""}

    def _ctx_feed(self, posts) -> dict:
        # Feed readers get the words, not the form.
        return {"posts": posts, "bodies": {p.slug: Markup(self.body(p).replace(markdown.FORM_MARK, "")) for p in posts},
                "updated": max((p.updated_at or (p.published_at and p.published_at.isoformat()) or "")
                               for p in posts) or "2000-01-01T00:00:00+00:00"}

    def _ctx_products(self, category: str | None, products, categories, version: str) -> dict:
        title = category or "Shop"
        trail = [("Shop", urls.products())] + ([(category, urls.category(category))] if category else [])
        return {"meta": self._meta(title, json_ld=[self._crumbs(*trail)]), "category": category,
                "products": products, "categories": categories, "catalog_version": version}

    _ctx_category = _ctx_products

    def _ctx_product(self, product: Product, version: str, related=(), delivery=()) -> dict:
        url = urls.product(product.slug)
        image = self.image(product.images[0]) if product.images else None
        description = product.meta_description or self.summary(product)
        data = seo.product(product, self.settings.base_url, url, description, image.src(1600) if image else None)
        category = product.categories[0] if product.categories else None
        trail = [("Shop", urls.products())] + ([(category.capitalize(), urls.category(category))] if category else [])
        crumbs = self._crumbs(*trail, (product.name, url))
        return {"meta": self._meta(product.meta_title or product.name, description, "product", image, [data, crumbs]),
                "product": product, "body": self.body(product), "catalog_version": version, "trail": trail,
                "related": related, "delivery": delivery}

    def _ctx_search(self) -> dict:
        return {"meta": self._meta("Search"), "search_page": True}

    def _ctx_cart(self, version: str) -> dict:
        return {"meta": self._meta("Your basket"), "catalog_version": version, "thumbs": self._thumbs()}

    def _ctx_checkout(self, version: str) -> dict:
        return {"meta": self._meta("Checkout"), "catalog_version": version, "thumbs": self._thumbs(),
                "ship_to": self._ship_to()}

    def _ctx_order(self, version: str) -> dict:
        return {"meta": self._meta("Your order"), "catalog_version": version, "thumbs": self._thumbs()}

    # Enough for the basket of any demo or small shop; beyond it the basket shows no thumbnails rather than
    # making every basket page carry a map of the whole catalog.
    MAX_THUMBS = 400

    def _thumbs(self) -> dict[str, str]:
        """Each sku → its product image's smallest derivative, so that the basket's, checkout's and order's
        thumbnails are a few kilobytes, not the full photograph (orders know their lines' skus, not images)."""
        thumbs = {}
        for product in self.content.products[:self.MAX_THUMBS]:
            info = self.image(product.images[0]) if product.images else None
            if info and info.variants:
                src = info.src(0)
                thumbs.update((v.sku, src) for v in product.variants)
        return thumbs

    def _ship_to(self) -> list[str]:
        """The countries the checkout offers, from shipping.yaml (or site.yaml's legacy block): ["*"] for
        everywhere when a zone covers the rest of the world, none when the shop sets no rules."""
        rules, codes = self.content.shipping, set()
        if rules is not None:
            for zone in (*rules.zones, *rules.local_delivery):
                codes.update(zone.countries)
            codes.update(p.country for p in rules.pickup)
        elif self.content.site.shipping is not None:
            codes.update(self.content.site.shipping.countries)
        return ["*"] if "*" in codes or not codes else sorted(codes)

    def _ctx_404(self) -> dict:
        # not_found: no view beacon here, as the edge counts no 404 either
        return {"meta": self._meta("Page not found"), "not_found": True}

    def _ctx_redirect(self, target: str) -> dict:
        absolute = target if target.startswith(("http://", "https://")) else self.settings.base_url + target
        return {"meta": {"canonical": absolute}, "target": target}

    def _ctx_sitemap(self, entries) -> dict:
        return {"entries": entries}

    def _ctx_robots(self) -> dict:
        return {}

