"""Takes docs/images/playground.png: the playground serving the shakespeare preset.

    python benchmarks/playground_screenshot.py

Starts the server in this process on a free loopback port, drives Debian's
chromium (`apt-get install -y chromium`) through Playwright, types a prompt,
generates 400 characters with seed 3 and saves the page as a PNG.
"""

import time
from pathlib import Path

import httpx

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "playground.png"


def main():
    from playwright.sync_api import sync_playwright

    from keras_chargen.models.presets import load_preset, preset_file
    from keras_chargen.serving import BackgroundServer, create_app

    app = create_app(load_preset("shakespeare"), model_path=preset_file("shakespeare"))
    with BackgroundServer(app) as server, sync_playwright() as p:
        while httpx.get(server.url + "/health").json()["status"] != "ok":
            time.sleep(0.05)
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1100, "height": 720})
        page.goto(server.url + "/")
        page.fill("#prompt", "ROMEO:\n")
        page.fill("#seed", "3")
        page.locator("#length").fill("400")
        page.click("#generate")
        page.wait_for_function(
            "document.getElementById('status').textContent.startsWith('done')"
        )
        page.screenshot(path=str(OUTPUT))
        browser.close()
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
