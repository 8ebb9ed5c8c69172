"""Parse a site's files into the content model, reporting every problem with file and line.

Layout of a site::

    site.yaml            name, theme, locale, currency, navigation, shipping, tax, redirects
    shipping.yaml        shipping zones, local delivery, pickup (``content.shipping``; optional)
    pages/*.md           pages (Markdown with YAML front matter)
    posts/*.md           blog posts
    products/*.md        products (description in the body)
    media/*              images and files; ``media/NAME.yaml`` beside one holds alt and caption
    theme/               template and asset overrides (read by the builder, not here)
"""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ContentError, ContentErrors
from .fields import SKU, Fields, is_email
from .forms import parse_form
from .model import (PAGE_STATUSES, PRODUCT_STATUSES, Content, Entry, Media, NavItem, Product,
                    Redirect, Shipping, Site, Variant)
from .money import Money, valid_currency
from .shipping import parse_shipping
from .tax import parse_tax, tax_category
from .source import FileInfo, Source
from .yamltext import Mapping, decode, load_yaml, split_front_matter

SITE_FIELDS = {"name", "tagline", "description", "author", "theme", "locale", "currency", "timezone",
               "navigation", "theme_settings", "shipping", "tax", "redirects",
               "payment_instructions", "posts_per_page", "email", "low_stock_threshold", "prior_price_rule",
               "analytics"}
ENTRY_FIELDS = {"title", "slug", "author", "status", "published_at", "excerpt", "meta_title",
                "meta_description", "tags", "aliases", "image", "template", "form"}
PRODUCT_FIELDS = {"name", "slug", "sku", "price", "compare_price", "images", "status",
                  "featured", "weight", "dimensions", "categories", "options", "variants",
                  "track_stock", "excerpt", "meta_title", "meta_description", "aliases", "gift_card",
                  "tax_category"}
VARIANT_FIELDS = {"sku", "title", "options", "price", "compare_price", "track_stock", "weight", "tax_category"}
MEDIA_FIELDS = {"alt", "caption"}
MAX_FILE = 2 * 1024 * 1024  # Markdown or YAML larger than this is a mistake, not content


def parse_site(source: Source, cache: dict | None = None, fresh: set[str] | None = None) -> Content:
    """Parse everything; raise ``ContentErrors`` listing every problem found.

    ``cache`` (any dict, kept by the caller between builds) maps each Markdown file to its
    fingerprint, parse result and a digest of that result, so that a rebuild parses only the
    files that changed. Paths in ``fresh`` are parsed again whatever the cache says.
    """
    errors: list[ContentError] = [ContentError(path, None, "this file name is not allowed (a folder called '..' "
                                               "or '.', or a name git reserves); rename or remove it")
                                  for path in getattr(source, "refused", ())]
    paths = source.paths()
    infos = source.info()
    site = _parse_site_yaml(source, paths, errors)
    zone = ZoneInfo(site.timezone)

    media = _parse_media(source, paths, errors)
    pages, posts, products = [], [], []
    for path in paths:
        folder, _, name = path.partition("/")
        if "/" in name or not name.endswith(".md") or folder not in ("pages", "posts", "products"):
            continue
        key = (source.fingerprint(path), site.currency, site.timezone, infos.get(path))
        cached = cache.get(path) if cache is not None else None
        if cached is not None and cached[0] == key and not (fresh and path in fresh):
            item, item_errors = cached[1], cached[2]
        else:
            item, item_errors = _parse_item(source, path, folder, site, zone, infos.get(path) or FileInfo())
            if cache is not None:
                digest = hashlib.blake2b(repr(item).encode(), digest_size=16).digest()
                cache[path] = (key, item, item_errors, digest)
        errors.extend(item_errors)
        if item is not None:
            {"pages": pages, "posts": posts, "products": products}[folder].append(item)
    if cache is not None:
        for stale in set(cache) - set(paths):
            del cache[stale]

    _check_unique(pages, "slug", errors)
    _check_unique(posts, "slug", errors)
    _check_unique(products, "slug", errors)
    _check_unique_forms([*pages, *posts], errors)
    _check_skus(products, errors)
    _check_images(products, {m.name for m in media}, errors)
    shipping = parse_shipping(source, paths, site.currency, site.shipping, products, errors)
    if errors:
        raise ContentErrors(errors)
    posts.sort(key=lambda p: (p.published_at is not None, p.published_at, p.slug), reverse=True)
    return Content(site, tuple(pages), tuple(posts), tuple(products), tuple(media), shipping)


def _parse_item(source: Source, path: str, folder: str, site: Site, zone, info: FileInfo):
    errors: list[ContentError] = []
    try:
        data, body, body_line = _read_markdown(source, path)
    except ContentErrors as exc:
        return None, exc.errors
    if folder == "products":
        item = _product(path, data, body, body_line, site.currency, errors, info)
    else:
        item = _entry(folder[:-1], path, data, body, body_line, zone, errors, info)
    return item, errors


def parse_product(path: str, raw: bytes, currency: str) -> Product | None:
    """One product file's bytes (an earlier version, from git history) parsed on their own, or None
    when they have errors: a version that did not parse was never published."""
    errors: list[ContentError] = []
    try:
        data, body, body_line = _read_markdown_bytes(raw, path)
    except ContentErrors:
        return None
    product = _product(path, data, body, body_line, currency, errors, FileInfo())
    return None if errors else product


def _read_markdown_bytes(raw: bytes, path: str) -> tuple[Mapping, str, int]:
    if len(raw) > MAX_FILE:
        raise ContentError(path, None, f"is larger than {MAX_FILE // 1024} KiB").as_exception()
    return split_front_matter(decode(raw, path), path)


def _check_images(products: list[Product], media_names: set[str], errors: list[ContentError]) -> None:
    for product in products:
        for image in product.images:
            if image.removeprefix("media/") not in media_names:
                errors.append(ContentError(product.path, product.images_line, f"{image!r} is not in media/",
                                           "images"))


def _read_markdown(source: Source, path: str) -> tuple[Mapping, str, int]:
    return _read_markdown_bytes(source.read(path), path)


def _parse_site_yaml(source: Source, paths: list[str], errors: list[ContentError]) -> Site:
    fallback = Site(name="Untitled", theme="storefront", locale="en", currency="EUR", timezone="UTC")
    if "site.yaml" not in paths:
        errors.append(ContentError("site.yaml", None, "is missing; every site needs one"))
        return fallback
    try:
        data = load_yaml(decode(source.read("site.yaml"), "site.yaml"), "site.yaml")
    except ContentErrors as exc:
        errors.extend(exc.errors)
        return fallback
    if not isinstance(data, Mapping):
        errors.append(ContentError("site.yaml", 1, "must be a mapping of settings (key: value)"))
        return fallback
    f = Fields(data, "site.yaml", errors, SITE_FIELDS)
    currency = f.text("currency", "EUR").upper()
    if not valid_currency(currency):
        f.error("currency", f"{currency!r} is not a three-letter ISO 4217 code such as EUR")
        currency = "EUR"
    timezone = f.text("timezone", "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        f.error("timezone", f"{timezone!r} is not a time zone name such as Europe/Berlin")
        timezone = "UTC"
    theme_settings = f.mapping("theme_settings") or {}
    posts_per_page = f.integer("posts_per_page", minimum=1) or 10
    return Site(
        name=f.text("name", required=True, max_len=200) or "Untitled",
        tagline=f.text("tagline", max_len=300),
        author=f.text("author", max_len=200),
        description=f.text("description", max_len=1000),
        theme=f.slug("theme", "storefront"),
        locale=f.text("locale", "en"),
        currency=currency,
        timezone=timezone,
        navigation=_navigation(f, errors),
        theme_settings=_plain(theme_settings),
        shipping=_shipping(f, currency, errors),
        tax=parse_tax(f),
        redirects=_redirects(f, errors),
        payment_instructions=f.text("payment_instructions", max_len=4000),
        posts_per_page=posts_per_page,
        email=_site_email(f),
        low_stock_threshold=_or(f.integer("low_stock_threshold", minimum=0), 3),
        prior_price_rule=f.flag("prior_price_rule"),
        analytics_beacon=_analytics(f, errors),
    )


def _analytics(f: Fields, errors: list[ContentError]) -> bool:
    """``analytics: {beacon: true}``: the site is behind a CDN, so its pages report their views."""
    data = f.mapping("analytics")
    if not data:
        return False
    return Fields(data, f.path, errors, {"beacon"}).flag("beacon")


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _site_email(f: Fields) -> str:
    email = f.text("email", max_len=254)
    if email and not is_email(email):
        f.error("email", f"{email!r} is not an email address such as hello@example.com")
        return ""
    return email


def _plain(value: object) -> object:
    """Strip line bookkeeping so settings compare and serialise as ordinary values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _items(f: Fields, key: str, errors: list[ContentError]) -> list[Mapping]:
    value = f.data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        f.error(key, "must be a list of mappings")
        return []
    return value


def _navigation(f: Fields, errors: list[ContentError]) -> tuple[NavItem, ...]:
    items = []
    for item in _items(f, "navigation", errors):
        g = Fields(item, f.path, errors, {"title", "url"})
        items.append(NavItem(g.text("title", required=True), g.text("url", required=True)))
    return tuple(items)


def _shipping(f: Fields, currency: str, errors: list[ContentError]) -> Shipping | None:
    data = f.mapping("shipping")
    if not data:  # an empty block (the admin's settings form wrote one when its fields were empty) sets nothing
        return None
    g = Fields(data, f.path, errors, {"flat_rate", "free_over", "countries"})
    rate = g.price("flat_rate", currency, required=True) or Money(0, currency)
    countries = g.text_list("countries")
    for country in countries:
        if len(country) != 2 or not country.isalpha() or not country.isupper():
            g.error("countries", f"{country!r} is not a two-letter country code such as DE")
    return Shipping(rate, g.price("free_over", currency), countries, f.line("shipping"))


def _redirects(f: Fields, errors: list[ContentError]) -> tuple[Redirect, ...]:
    result = []
    for item in _items(f, "redirects", errors):
        g = Fields(item, f.path, errors, {"from", "to", "status"})
        source, target = g.text("from", required=True), g.text("to", required=True)
        status = g.integer("status") or 301
        if status not in (301, 302, 307, 308):
            g.error("status", "must be 301, 302, 307 or 308")
        if source and not source.startswith("/"):
            g.error("from", "must be a path starting with /")
        result.append(Redirect(source, target, status))
    return tuple(result)


def _entry(kind: str, path: str, data: Mapping, body: str, body_line: int, zone, errors,
           info: FileInfo) -> Entry:
    f = Fields(data, path, errors, ENTRY_FIELDS)
    title = f.text("title", required=True, max_len=300)
    return Entry(
        kind=kind, path=path,
        slug=f.slug("slug", PurePosixPath(path).stem),
        title=title,
        status=f.choice("status", PAGE_STATUSES, "published"),
        published_at=f.moment("published_at", zone),
        excerpt=f.text("excerpt", max_len=1000),
        meta_title=f.text("meta_title", max_len=300),
        meta_description=f.text("meta_description", max_len=500),
        tags=f.text_list("tags"),
        aliases=_aliases(f),
        body=body, body_line=body_line,
        image=f.text("image") or None,
        author=f.text("author", max_len=200),
        created_by=info.created_by, updated_by=info.updated_by, updated_at=info.updated_at,
        form=parse_form(f, title),
    )


def _aliases(f: Fields) -> tuple[str, ...]:
    aliases = f.text_list("aliases")
    for alias in aliases:
        if not alias.startswith("/") or ".." in alias:
            f.error("aliases", f"{alias!r} must be a path starting with /")
    return aliases


def _product(path: str, data: Mapping, body: str, body_line: int, currency: str, errors,
             info: FileInfo) -> Product:
    f = Fields(data, path, errors, PRODUCT_FIELDS)
    images = f.text_list("images")
    price = f.price("price", currency, required=True) or Money(0, currency)
    compare = f.price("compare_price", currency)
    compare_line = f.line("compare_price") if compare else 0
    sku = f.text("sku") or None
    if sku and not SKU.match(sku):
        f.error("sku", f"{sku!r} is not a valid sku (letters, digits, '.', '_' and '-')")
    gift_card, gift_card_months = _gift_card(f)
    track = f.flag("track_stock", not gift_card)  # a gift card is a code, not a thing on a shelf
    weight = f.integer("weight")
    name = f.text("name", required=True, max_len=300)
    options = _options(f)
    # A gift card is a voucher: its tax is charged when it is spent, never when it is sold.
    category = "zero" if gift_card else tax_category(f)
    variants = _variants(f, options, price, compare, compare_line, track, weight, currency, errors, category,
                         forced=gift_card)
    if not variants:
        if not sku:
            f.error("sku", "is required for a product without variants", data.line)
        variants = (Variant(sku or "", name, (), price, compare, track, weight, compare_line, tax_category=category),)
    dims = f.mapping("dimensions") or {}
    dimensions = []
    if dims:
        g = Fields(dims, path, errors, {"length", "width", "height"})
        dimensions = [(k, v) for k in ("length", "width", "height") if (v := g.number(k)) is not None]
    return Product(
        path=path, slug=f.slug("slug", PurePosixPath(path).stem), name=name, sku=sku,
        price=price, compare_price=compare,
        status=f.choice("status", PRODUCT_STATUSES, "active"),
        featured=f.flag("featured"),
        images=images, categories=f.text_list("categories"),
        options=options, variants=variants, track_stock=track, weight=weight,
        dimensions=tuple(dimensions),
        excerpt=f.text("excerpt", max_len=1000),
        meta_title=f.text("meta_title", max_len=300),
        meta_description=f.text("meta_description", max_len=500),
        aliases=_aliases(f), body=body, body_line=body_line, images_line=f.line("images"),
        created_by=info.created_by, updated_by=info.updated_by, updated_at=info.updated_at,
        gift_card=gift_card, gift_card_months=gift_card_months, compare_line=compare_line, tax_category=category,
    )


def _gift_card(f: Fields) -> tuple[bool, int | None]:
    """``gift_card: true``, or ``gift_card: {valid_months: 24}`` for cards that expire (where the law allows)."""
    value = f.data.get("gift_card")
    if value is None or value is False:
        return False, None
    if value is True:
        return True, None
    if not isinstance(value, Mapping):
        f.error("gift_card", "must be true, false or a mapping such as {valid_months: 24}")
        return False, None
    g = Fields(value, f.path, f.errors, {"valid_months"})
    months = g.integer("valid_months", minimum=1)
    if months is not None and months > 120:
        g.error("valid_months", "must be at most 120 (ten years)")
        months = None
    return True, months


def _options(f: Fields) -> tuple[tuple[str, tuple[str, ...]], ...]:
    result = []
    for item in _items(f, "options", f.errors):
        g = Fields(item, f.path, f.errors, {"name", "values"})
        name, values = g.text("name", required=True), g.text_list("values")
        if not values:
            g.error("values", "must list at least one value")
        result.append((name, values))
    return tuple(result)


def _variants(f: Fields, options, price: Money, compare: Money | None, compare_line: int, track: bool,
              weight: int | None, currency: str, errors, category: str = "standard", forced: bool = False) -> tuple[Variant, ...]:
    declared = dict(options)
    result = []
    for item in _items(f, "variants", errors):
        g = Fields(item, f.path, errors, VARIANT_FIELDS)
        sku = g.text("sku", required=True)
        if sku and not SKU.match(sku):
            g.error("sku", f"{sku!r} is not a valid sku (letters, digits, '.', '_' and '-')")
        chosen = g.mapping("options") or {}
        pairs = []
        for key, value in chosen.items():
            if key not in declared:
                g.error("options", f"option {key!r} is not declared in the product's options", chosen.line_of(key))
            elif str(value) not in declared[key]:
                g.error("options", f"{value!r} is not one of the values of {key!r}: {', '.join(declared[key])}",
                        chosen.line_of(key))
            pairs.append((str(key), str(value)))
        missing = [k for k in declared if k not in chosen]
        if declared and missing:
            g.error("options", f"does not choose a value for {', '.join(missing)}", item.line)
        title = g.text("title") or " / ".join(v for _, v in pairs) or sku
        own_compare = g.price("compare_price", currency)
        result.append(Variant(sku, title, tuple(pairs),
                              g.price("price", currency) or price,
                              own_compare or compare,
                              g.flag("track_stock", track), g.integer("weight") or weight,
                              g.line("compare_price") if own_compare else compare_line,
                              tax_category="zero" if forced else tax_category(g, category)))
    combos: dict[tuple, Variant] = {}
    for variant in result:
        if variant.options and variant.options in combos:
            f.error("variants", f"variants {combos[variant.options].sku} and {variant.sku} "
                                f"have the same options")
        combos[variant.options] = variant
    return tuple(result)


def _parse_media(source: Source, paths: list[str], errors: list[ContentError]) -> list[Media]:
    present = set(paths)
    media = []
    for path in paths:
        if not path.startswith("media/") or path.endswith((".yaml", ".yml")):
            continue
        alt = caption = ""
        sidecar = next((s for s in (path + ".yaml", path + ".yml") if s in present), None)
        if sidecar:
            try:
                data = load_yaml(decode(source.read(sidecar), sidecar), sidecar)
            except ContentErrors as exc:
                errors.extend(exc.errors)
                data = None
            if data is not None and not isinstance(data, Mapping):
                errors.append(ContentError(sidecar, 1, "must be a mapping with alt and caption"))
            elif data is not None:
                f = Fields(data, sidecar, errors, MEDIA_FIELDS)
                alt, caption = f.text("alt", max_len=500), f.text("caption", max_len=1000)
        media.append(Media(path, alt, caption, source.size(path)))
    for path in paths:
        if path.startswith("media/") and path.endswith((".yaml", ".yml")):
            if path.rsplit(".", 1)[0] not in present:
                errors.append(ContentError(path, None, "describes a media file that does not exist"))
    return media


def _check_unique(items, attr: str, errors: list[ContentError]) -> None:
    seen: dict[str, object] = {}
    for item in items:
        value = getattr(item, attr)
        if value in seen:
            other = seen[value]
            errors.append(ContentError(item.path, None, f"{value!r} is also used by {other.path}", attr))
            errors.append(ContentError(other.path, None, f"{value!r} is also used by {item.path}", attr))
        else:
            seen[value] = item


def _check_unique_forms(entries: list[Entry], errors: list[ContentError]) -> None:
    seen: dict[str, Entry] = {}
    for entry in entries:
        if entry.form is None or not entry.form.name:
            continue
        other = seen.setdefault(entry.form.name, entry)
        if other is not entry:
            name = entry.form.name
            errors.append(ContentError(entry.path, None, f"{name!r} is also used by {other.path}", "form"))
            errors.append(ContentError(other.path, None, f"{name!r} is also used by {entry.path}", "form"))


def _check_skus(products: list[Product], errors: list[ContentError]) -> None:
    seen: dict[str, Product] = {}
    for product in products:
        for sku in dict.fromkeys(product.skus):
            if not sku:
                continue
            if sku in seen and seen[sku] is not product:
                other = seen[sku]
                errors.append(ContentError(product.path, None, f"{sku!r} is also used by {other.path}", "sku"))
                errors.append(ContentError(other.path, None, f"{sku!r} is also used by {product.path}", "sku"))
            seen.setdefault(sku, product)
        if len(set(product.skus)) != len(product.skus):
            errors.append(ContentError(product.path, None, "two variants share one sku", "variants"))
