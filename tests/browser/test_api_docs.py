"""/api/docs works with the network off: the viewer's files come from the installed package."""

from __future__ import annotations

from urllib.parse import urlparse


def test_the_api_docs_render_with_no_request_leaving_the_machine(site, page):
    outside: list[str] = []

    def only_local(route) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:  # what a machine without internet would see
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"http://127.0.0.1:{site['port']}/api/docs")
    page.locator(".swagger-ui .info .title").filter(has_text="Tessera API").wait_for()
    page.get_by_text("/api/auth/login", exact=True).first.wait_for()
    assert outside == []
