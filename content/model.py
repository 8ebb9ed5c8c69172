"""The content model: what a tenant's repository means, as plain frozen values.

Built by ``content.parse``; read by the builder, the API's catalog import and the admin UI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from .money import Money

PAGE_STATUSES = ("draft", "published", "archived")
PRODUCT_STATUSES = ("active", "inactive", "draft")
FORM_FIELD_TYPES = ("text", "email", "tel", "number", "textarea", "select", "checkbox")


@dataclass(frozen=True)
class NavItem:
    title: str
    url: str


@dataclass(frozen=True)
class Redirect:
    source: str
    target: str
    status: int = 301


@dataclass(frozen=True)
class Shipping:
    """site.yaml's legacy ``shipping:`` block: one flat rate (``shipping.yaml`` replaces it)."""

    flat_rate: Money
    free_over: Money | None
    countries: tuple[str, ...]
    line: int = field(default=0, compare=False)  # where the block is in site.yaml


TAX_CATEGORIES = ("standard", "reduced", "zero")


@dataclass(frozen=True)
class Tax:
    rate: Decimal  # percent, e.g. Decimal("7"); legacy: used only without ``origin``
    inclusive: bool  # prices as written include tax (``prices_include_tax``)
    label: str
    origin: str | None = None  # the country the shop sells from; None: the legacy one-rate rules
    oss: bool = False  # EU one-stop shop: the buyer's country's VAT inside the EU
    shipping: bool = True  # delivery charges are taxed too, pro rata to the goods' rates
    # "GB" or "US-NY" → category → percent: the shop's own rates, over the starter table's
    rates: dict[str, dict[str, Decimal]] = field(default_factory=dict)


@dataclass(frozen=True)
class Excludes:
    """What a shipping method or pickup location cannot take: product slugs and categories."""

    products: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Band:
    """One price band: ``limit`` is grams (``up_to``, inclusive) or minor units (``from``, inclusive)."""

    limit: int
    price: Money


@dataclass(frozen=True)
class ShippingMethod:
    id: str  # unique within its zone; the option's id is "zone/method"
    name: str
    price: Money | None  # None when bands give the price
    free_over: Money | None = None
    min_order: Money | None = None
    estimate: str = ""
    weight_bands: tuple[Band, ...] = ()
    subtotal_bands: tuple[Band, ...] = ()
    excludes: Excludes = Excludes()


@dataclass(frozen=True)
class ShippingZone:
    id: str
    name: str
    countries: tuple[str, ...]  # two-letter codes, or ("*",) for everywhere else
    postcodes: tuple[str, ...]
    exclude_postcodes: tuple[str, ...]
    methods: tuple[ShippingMethod, ...]


@dataclass(frozen=True)
class LocalDelivery:
    id: str
    name: str
    countries: tuple[str, ...]
    postcodes: tuple[str, ...]
    exclude_postcodes: tuple[str, ...]
    price: Money
    min_order: Money | None = None
    free_over: Money | None = None
    estimate: str = ""
    excludes: Excludes = Excludes()


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class PickupLocation:
    id: str
    name: str
    address: str
    country: str
    price: Money
    hours: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (weekday, (("08:00", "16:00"), ...)), in WEEKDAYS order
    slot_minutes: int = 60
    capacity: int | None = None  # orders per slot; None: no limit
    preparation_minutes: int = 0
    cutoff: str | None = None  # "HH:MM" local time
    closed: tuple[date, ...] = ()
    days_ahead: int = 7
    excludes: Excludes = Excludes()


@dataclass(frozen=True)
class ShippingRules:
    """``shipping.yaml``: zones with methods, local delivery and pickup locations."""

    zones: tuple[ShippingZone, ...] = ()
    local_delivery: tuple[LocalDelivery, ...] = ()
    pickup: tuple[PickupLocation, ...] = ()


@dataclass(frozen=True)
class Site:
    name: str
    theme: str
    locale: str
    currency: str
    timezone: str
    tagline: str = ""
    description: str = ""
    navigation: tuple[NavItem, ...] = ()
    theme_settings: dict = field(default_factory=dict)  # colors, fonts, logo
    shipping: Shipping | None = None
    tax: Tax | None = None
    redirects: tuple[Redirect, ...] = ()
    author: str = ""  # the byline of posts that name none (the owner's name, not the platform's)
    payment_instructions: str = ""
    posts_per_page: int = 10
    email: str = ""  # where replies to the site's emails go (Reply-To), shown in them too
    low_stock_threshold: int = 3  # staff hear when an order leaves this many units or fewer
    # A "was" price must be the lowest price charged in the 30 days before the reduction (EU Omnibus
    # directive, Art. 6a PID); checked against the repository's history (builder.prices).
    prior_price_rule: bool = False
    # Behind a CDN that caches pages, the edge does not see every view: the pages then report their
    # own with a beacon (``analytics: {beacon: true}``) and the edge counts none of them.
    analytics_beacon: bool = False


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    type: str = "text"  # one of FORM_FIELD_TYPES
    required: bool = False
    options: tuple[str, ...] = ()  # a select's choices


# Every form asks for these, first; a page's front matter adds its own fields after them.
STANDARD_FORM_FIELDS = (FormField("name", "Your name", "text", True), FormField("email", "Email", "email", True),
                        FormField("message", "Message", "textarea", True))


@dataclass(frozen=True)
class Form:
    """A contact or enquiry form a page shows (``form:`` in its front matter)."""

    name: str  # a slug, unique in the site: the API's /api/forms/<name>
    title: str
    submit: str
    success: str
    fields: tuple[FormField, ...]  # the standard fields, then the page's own


@dataclass(frozen=True)
class Entry:
    """A page or a post."""

    kind: str  # "page" | "post"
    path: str
    slug: str
    title: str
    status: str
    published_at: datetime | None
    excerpt: str
    meta_title: str
    meta_description: str
    tags: tuple[str, ...]
    aliases: tuple[str, ...]
    body: str
    body_line: int
    image: str | None = None
    created_by: str | None = None
    updated_by: str | None = None
    updated_at: str | None = None  # ISO 8601, from git
    form: Form | None = None
    author: str = ""  # front matter's byline; else the site's author, else whoever committed it

    def is_live(self, now: datetime) -> bool:
        """Published and due: drafts, archived items and scheduled ones are not live."""
        return self.status == "published" and (self.published_at is None or self.published_at <= now)

    # The builder's parse cache keeps bodies on disk and loads an entry without one (``body_later``):
    # a rebuild reads only the bodies of the pages it renders again. Anything that asks for the
    # body gets it, read on first use; pickling an entry writes it whole.

    def __getattr__(self, name: str):
        load = self.__dict__.get("_body_loader") if name == "body" else None
        if load is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        body = load()
        object.__setattr__(self, "body", body)
        object.__delattr__(self, "_body_loader")
        return body

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if "_body_loader" in state:
            state["body"] = self.body
            del state["_body_loader"]
        return state

    @property
    def body_loaded(self) -> bool:
        return "_body_loader" not in self.__dict__

    @classmethod
    def body_later(cls, fields: dict, load) -> Entry:
        """An entry with every field in ``fields`` but the body, which ``load()`` returns when asked for."""
        entry = cls.__new__(cls)
        entry.__dict__.update(fields)
        entry.__dict__["_body_loader"] = load
        return entry


@dataclass(frozen=True)
class Variant:
    sku: str
    title: str
    options: tuple[tuple[str, str], ...]
    price: Money
    compare_price: Money | None
    track_stock: bool
    weight: int | None
    compare_line: int = 0  # the line of the compare_price that applies (the variant's own or the product's)
    # Set by the builder from git history, never by parsing: the lowest price charged in the 30 days
    # before this variant's reduction began (None when it shows no reduction, or nothing is known).
    lowest_30d: Money | None = None
    tax_category: str = "standard"  # one of TAX_CATEGORIES: the variant's own, else the product's


@dataclass(frozen=True)
class Product:
    path: str
    slug: str
    name: str
    sku: str | None
    price: Money
    compare_price: Money | None
    status: str
    featured: bool
    images: tuple[str, ...]
    categories: tuple[str, ...]
    options: tuple[tuple[str, tuple[str, ...]], ...]
    variants: tuple[Variant, ...]
    track_stock: bool
    weight: int | None  # grams
    dimensions: tuple[tuple[str, Decimal], ...]
    excerpt: str
    meta_title: str
    meta_description: str
    aliases: tuple[str, ...]
    body: str
    body_line: int
    images_line: int = 0
    created_by: str | None = None
    updated_by: str | None = None
    updated_at: str | None = None  # ISO 8601, from git
    gift_card: bool = False  # each variant is an amount; paying for one issues a card with a code
    gift_card_months: int | None = None  # months a sold card stays valid; None: it never expires
    compare_line: int = 0  # the line of compare_price in the file (0: none)
    lowest_30d: Money | None = None  # set by the builder: the lowest of its reduced variants' ``lowest_30d``
    tax_category: str = "standard"  # gift cards are always "zero": a voucher is taxed when spent

    @property
    def skus(self) -> tuple[str, ...]:
        return tuple(v.sku for v in self.variants)


@dataclass(frozen=True)
class Media:
    path: str  # relative to the repository, e.g. "media/rye-loaf.jpg"
    alt: str
    caption: str
    size: int

    @property
    def name(self) -> str:
        return self.path.removeprefix("media/")

    @property
    def is_image(self) -> bool:
        return self.path.lower().rsplit(".", 1)[-1] in {"jpg", "jpeg", "png", "webp", "gif", "avif"}


@dataclass(frozen=True)
class Content:
    site: Site
    pages: tuple[Entry, ...]
    posts: tuple[Entry, ...]
    products: tuple[Product, ...]
    media: tuple[Media, ...]
    shipping: ShippingRules | None = None  # shipping.yaml; None: site.yaml's legacy block (or nothing)

    def page(self, slug: str) -> Entry | None:
        return next((p for p in self.pages if p.slug == slug), None)

    def post(self, slug: str) -> Entry | None:
        return next((p for p in self.posts if p.slug == slug), None)

    def product(self, slug: str) -> Product | None:
        return next((p for p in self.products if p.slug == slug), None)

    def medium(self, name: str) -> Media | None:
        name = name.removeprefix("media/")
        return next((m for m in self.media if m.name == name), None)
