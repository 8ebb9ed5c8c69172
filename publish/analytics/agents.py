"""What a User-Agent says: a crawler or not, a coarse device class and a browser family.

Crawlers come from ``crawlerdetect`` (a maintained port of the Crawler-Detect pattern list, with
its exclusions); device and browser are a few hand-written rules, coarse on purpose: a report
needs "mobile, Safari", not a version number. Matching the crawler list costs a few hundred
microseconds, so answers are cached per User-Agent (people share a handful of them), and this
runs in the flusher's thread, never on a request.
"""

from __future__ import annotations

from typing import NamedTuple

DEVICES = ("desktop", "mobile", "tablet")
CACHE_SIZE = 4096


class Agent(NamedTuple):
    bot: bool
    device: str
    browser: str


def device_class(ua: str) -> str:
    """``mobile``, ``tablet`` or ``desktop``. An iPad on iPadOS 13+ says it is a Mac: desktop."""
    ua = ua.lower()
    if "ipad" in ua or "tablet" in ua or "kindle" in ua or "silk/" in ua or "playbook" in ua \
            or ("android" in ua and "mobile" not in ua):
        return "tablet"
    if "mobi" in ua or "iphone" in ua or "ipod" in ua or "android" in ua or "windows phone" in ua \
            or "opera mini" in ua:
        return "mobile"
    return "desktop"


# Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
_BROWSERS = (
    ("Edge", ("edg/", "edga/", "edgios/", "edge/")),
    ("Opera", ("opr/", "opera", "opios/")),
    ("Samsung Internet", ("samsungbrowser/",)),
    ("Firefox", ("firefox/", "fxios/")),
    ("Chrome", ("chrome/", "crios/", "chromium/")),
    ("Safari", ("safari/",)),
)


def browser_family(ua: str) -> str:
    ua = ua.lower()
    for name, marks in _BROWSERS:
        if any(mark in ua for mark in marks):
            return name
    return "Other"


class Agents:
    """Classifies User-Agents with a bounded cache; one per counter, used by one thread."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        from crawlerdetect import CrawlerDetect

        self._crawlers = CrawlerDetect()
        self._cache: dict[str, Agent] = {}
        self._size = size

    def classify(self, ua: str) -> Agent:
        agent = self._cache.get(ua)
        if agent is None:
            agent = Agent(self._crawlers.is_crawler(ua), device_class(ua), browser_family(ua))
            if len(self._cache) >= self._size:
                self._cache.pop(next(iter(self._cache)))  # the oldest entry: dicts keep insertion order
            self._cache[ua] = agent
        return agent
