"""The playground page in a real headless browser (Debian's chromium).

Playwright's Python package drives `/usr/bin/chromium` (no browser
download): type a prompt, click Generate, watch the text stream in, click
Stop. The screenshot goes to a temporary folder (docs/images/playground.png
is made by benchmarks/playground_screenshot.py). The machine needs
`apt-get install -y chromium` (`.ci/run` installs it); without it the test
fails with that message rather than being skipped.
"""

import os
import time

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server_url(trained_model_path):
    from keras_chargen.models.loading import load_model
    from keras_chargen.serving import BackgroundServer, Limits, create_app

    path = trained_model_path  # the suite's tiny trained model: text, not noise
    app = create_app(
        load_model(path), model_path=path, limits=Limits(max_length=50_000)
    )
    with BackgroundServer(app) as server:
        while httpx.get(server.url + "/health").json()["status"] != "ok":
            time.sleep(0.05)
        yield server.url


@pytest.fixture(scope="module")
def page(server_url):
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), (
        f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium"
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 720})
        page.goto(server_url + "/")
        yield page
        browser.close()


def test_generate_streams_text_into_the_page(page, tmp_path):
    page.wait_for_function(
        "document.getElementById('model-line').textContent.includes('characters')"
    )
    page.fill("#prompt", "the queen ")
    page.fill("#seed", "3")
    page.locator("#length").fill("400")
    page.click("#generate")
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('done')"
    )
    text = page.text_content("#generated")
    assert len(text) == 400
    assert page.text_content("#output").startswith("the queen ")
    assert "seed 3" in page.text_content("#status")
    assert page.is_enabled("#generate") and not page.is_enabled("#stop")
    shot = tmp_path / "playground.png"
    page.screenshot(path=str(shot))
    assert (
        shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    )


def test_stop_aborts_a_long_generation(page, server_url):
    cancelled = httpx.get(server_url + "/health").json()["rows_cancelled"]
    page.locator("#length").evaluate("(el) => { el.max = 50000; el.value = 50000; }")
    page.fill("#seed", "")
    page.click("#generate")
    # Text arrives piece by piece while the generation runs.
    page.wait_for_function(
        "document.getElementById('generated').textContent.length > 16"
    )
    assert page.is_enabled("#stop")
    page.click("#stop")
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('stopped')"
    )
    shown = len(page.text_content("#generated"))
    assert 0 < shown < 50_000
    time.sleep(0.3)
    assert len(page.text_content("#generated")) == shown  # nothing after Stop
    # The aborted fetch closed the connection: the server dropped the row.
    deadline = time.monotonic() + 10
    while httpx.get(server_url + "/health").json()["rows_cancelled"] == cancelled:
        assert time.monotonic() < deadline
        time.sleep(0.05)
