"""/docs (Swagger UI) and /redoc render in a browser that can reach nothing but the service itself:
their scripts and styles are shipped with the package, not fetched from a CDN."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.dashboard.cdp import CHROMIUM, OFFLINE, Browser
from tests.dashboard.conftest import KEY, Service, start, stop

# Every script, style and document the page loaded: all of them must be the service's own. Images are
# left out: ReDoc's sidebar shows Redocly's logo from their site, which fails quietly offline.
RESOURCES = ("JSON.stringify(performance.getEntriesByType('resource')"
             ".filter(e => e.initiatorType !== 'img').map(e => e.name))")


@pytest.fixture(scope="module")
def bare_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start(tmp_path_factory.mktemp("docs-offline"), VALID_API_KEYS=KEY)  # production mode, empty store
    yield svc
    stop(svc.proc)


def test_docs_pages_name_no_outside_host(bare_service: Service) -> None:
    for path in ("/docs", "/redoc"):
        html = httpx.get(bare_service.url + path, timeout=30).text
        assert "cdn." not in html and "fonts.googleapis" not in html, path
        for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/redoc.standalone.js"):
            assert httpx.get(bare_service.url + asset, timeout=30).status_code == 200


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: apt-get install -y chromium")
def test_docs_and_redoc_render_with_no_network(bare_service: Service) -> None:
    browser = Browser(extra_flags=OFFLINE)
    try:
        browser.open(bare_service.url + "/docs")
        browser.wait_until("document.querySelectorAll('.opblock').length >= 10", timeout=60,
                           what="Swagger UI's operation list")
        assert "/anomalies/stats" in browser.text()
        loaded = json.loads(browser.evaluate(RESOURCES))
        assert loaded and all(u.startswith(bare_service.url) for u in loaded), loaded

        browser.open(bare_service.url + "/redoc")
        browser.wait_until("document.body.innerText.includes('List anomalies')", timeout=60,
                           what="ReDoc's operation list")
        loaded = json.loads(browser.evaluate(RESOURCES))
        assert loaded and all(u.startswith(bare_service.url) for u in loaded), loaded
    finally:
        browser.close()
