"""The next plan from the last one, when an edit changed only what pages show.

A long-lived builder (a worker, the dev server) keeps its last plan. Most edits change a page's or a
post's words: its title, excerpt, body, image, byline. Such an edit changes no URL, no listing's
order and no tag, so the new plan is the last one with the edited entries put in place of the old
ones, in every job that holds them (the entry's own page, the listings and feed that show it). That
costs a look at the edited entries instead of planning 10,000 pages again; and the jobs nobody
edited stay the very same objects, so the build knows their fingerprints without encoding anything.

Anything else (a new or deleted file, a slug, a date, a status, tags, a form, a product, the site's
settings, a scheduled entry coming due) makes a whole plan, as does a first build.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from content.model import Content, Entry, Product

from .plan import Job, Plan, _sitemap

# What an entry's place in the plan depends on: its URL, whether and when it is live, the listings
# it is in (tags, dates), its redirects and its form. The other fields (title, excerpt, meta, body,
# image, byline, updated_at) change only what the pages holding it show.
PLACE = ("kind", "path", "slug", "status", "published_at", "tags", "aliases", "form")


class Replanner:
    """The last plan of one output folder, and the content and settings it was made from."""

    def __init__(self, content: Content, plan: Plan, now: datetime, shop: bool, renamed: dict | None) -> None:
        self.content, self.plan, self.now = content, plan, now
        self.key = (shop, sorted((renamed or {}).items()))
        self._uses: dict[int, list[int]] | None = None  # id(entry) → the indices of the jobs holding it

    def next(self, content: Content, now: datetime, shop: bool, renamed: dict | None) -> Plan | None:
        """The plan for ``content``, made from the last one; None when it must be made whole."""
        before, plan = self.content, self.plan
        if (self.key != (shop, sorted((renamed or {}).items())) or now < self.now
                or (plan.next_scheduled is not None and now >= plan.next_scheduled)):
            return None
        if not (_same_value(before.site, content.site) and _same_value(before.shipping, content.shipping)
                and _same_items(before.products, content.products) and _same_value(before.media, content.media)):
            return None
        changed = []
        for old_list, new_list in ((before.pages, content.pages), (before.posts, content.posts)):
            if len(old_list) != len(new_list):
                return None
            for old, new in zip(old_list, new_list):
                if old is not new:
                    if not _same_place(old, new):
                        return None
                    changed.append((old, new))
        if changed:
            plan = self._swap(plan, changed)
        self.content, self.plan, self.now = content, plan, now
        return plan

    def _swap(self, plan: Plan, changed: list[tuple[Entry, Entry]]) -> Plan:
        uses = self._uses if self._uses is not None else self._index(plan.jobs)
        self._uses = uses
        swap = {id(old): new for old, new in changed}
        jobs = list(plan.jobs)
        touched: set[int] = set()
        for old, new in changed:
            indices = uses.pop(id(old), [])
            uses[id(new)] = indices
            touched.update(indices)
        for index in touched:
            job = jobs[index]
            jobs[index] = Job(job.url, job.template, job.kind, _swapped(job.inputs, swap))
        if any(old.updated_at != new.updated_at for old, new in changed):  # the sitemap's dates
            index = next(i for i, job in enumerate(jobs) if job.kind == "sitemap")
            job = jobs[index]
            jobs[index] = Job(job.url, job.template, job.kind, (_sitemap(jobs),))
        return replace(plan, jobs=tuple(jobs))

    @staticmethod
    def _index(jobs: tuple[Job, ...]) -> dict[int, list[int]]:
        uses: dict[int, list[int]] = {}
        for index, job in enumerate(jobs):
            for item in _items(job.inputs):
                found = uses.setdefault(id(item), [])
                if not found or found[-1] != index:
                    found.append(index)
        return uses


def _items(value: object):
    """The entries and products anywhere in a job's inputs."""
    for item in value:  # type: ignore[union-attr]
        kind = type(item)
        if kind is Entry or kind is Product:
            yield item
        elif kind is tuple:
            yield from _items(item)


def _swapped(value: tuple, swap: dict[int, Entry]) -> tuple:
    out = []
    for item in value:
        if type(item) is tuple:
            item = _swapped(item, swap)
        elif type(item) is Entry:
            item = swap.get(id(item), item)
        out.append(item)
    return tuple(out)


# Values are compared as they are written, not only as equal: 7 and 7.0 (a Decimal) are equal, and so
# are two datetimes naming one instant in two offsets, but the catalog's version and the sitemap's
# dates are made from what they print.

def _same_place(old: Entry, new: Entry) -> bool:
    return all(_same_value(getattr(old, name), getattr(new, name)) for name in PLACE)


def _same_value(old: object, new: object) -> bool:
    return old is new or (old == new and repr(old) == repr(new))


def _same_items(old: tuple, new: tuple) -> bool:
    """The same products: the parse cache's very objects as a rule, else ones read again the same."""
    return old is new or (len(old) == len(new) and all(a is b or _same_value(a, b) for a, b in zip(old, new)))
