"""The static site (`lstm-explainer site OUT_DIR`) served by `python -m http.server` (no app, no Python of
ours), under a sub-path as an LMS or a course page would host it, driven in Chromium: the explorer types
and matches the core, the embed answers postMessage from another origin, the scenes play from the
gallery, the lab plots. Every request goes to that server (or stays in the page). Screenshots land in
tests/e2e/artifacts/site-*.png."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.site import write_site

from .conftest import offline_page, state, trace, wait_ready
from .harness import free_port
from .test_embed import Site, host, ok
from .test_export import SHOWS_TEXT, close, core, page_doc

MODELS = ["recall-lstm", "recall-rnn", "grammar-lstm", "grammar-rnn"]
SUB = "/course/lstm"  # where the course page put the folder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    write_site(root / SUB.strip("/"), MODELS)
    port = free_port()
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}{SUB}/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url + SUB
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def deck() -> Iterator[Site]:
    other = Site()
    yield other
    other.close()


@pytest.fixture
def site_tab(chromium: Any, site: str) -> Iterator[Any]:
    """A page whose requests to anything but the local servers (the site's, the deck's) are aborted."""
    with offline_page(chromium, ("http://127.0.0.1", "blob:", "data:")) as pg:
        yield pg
    assert not [u for u in pg.requested if u.startswith("ws") or "/api/" in u], "the site asked for a server"


def test_the_folder_is_the_app_as_files(tmp_path: Path) -> None:
    out = write_site(tmp_path / "s", ["recall-lstm"])
    names = {p.relative_to(out.root).as_posix() for p in out.root.rglob("*") if p.is_file()}
    assert {"index.html", "embed/index.html", "scenes/index.html", "lab/index.html", "vendor/plotly.min.js",
            "models/recall-lstm/model.json", "models/recall-lstm/weights.safetensors",
            "static/js/engine/worker.js", "static/js/main.js", "static/css/app.css"} <= names  # fmt: skip
    assert not any(n.startswith("models/") and "recall-lstm" not in n for n in names)
    page = (out.root / "embed" / "index.html").read_text(encoding="utf-8")
    assert 'data-root="../"' in page and 'href="../static/css/app.css' in page and '="/' not in page
    assert set(out.sizes) >= {"app", "plotly.js", "recall-lstm", "pages"}


def test_the_explorer_types_with_no_server(site_tab: Any, site: str, artifacts: Path) -> None:
    tab = site_tab
    tab.goto(f"{site}/?model=grammar-lstm")
    first = wait_ready(tab, timeout=30_000)
    assert trace(tab)["model"]["id"] == "grammar-lstm"
    options = tab.locator("#model-select option").evaluate_all("(os) => os.map((o) => o.value)")
    assert set(options) == set(MODELS)
    text = "the keys to the cabinet are"
    tab.locator("#target-input").fill("")
    tab.locator("#text-input").fill(text)
    want = core("grammar-lstm", text, None, [])
    tab.wait_for_function(SHOWS_TEXT, arg=[t["text"] for t in want["tokens"]], timeout=30_000)
    wait_ready(tab, first)
    close(page_doc(tab), want)
    tab.screenshot(path=artifacts / "site-explorer.png")
    # the scene link and the embed dialog's URL point into the site, not at a server's root
    tab.goto(f"{site}/?scene=long-context")
    tab.wait_for_function("() => document.body.dataset.scene === 'long-context/0'", timeout=30_000)
    assert tab.locator(".scene-title").get_attribute("href") == "scenes/"
    wait_ready(tab, timeout=30_000)
    assert state(tab)["scene"] == "long-context"


def test_the_embed_answers_postmessage(site_tab: Any, site: str, deck: Site, artifacts: Path) -> None:
    tab = site_tab
    host(tab, deck, f"{site}/embed?model=recall-lstm&text=b31415926%3D&panels=predictions")
    assert ok(tab, "seek", 0)["step"] == 0
    after = ok(tab, "setText", "b12=")
    assert after["text"] == "b12="
    frame = next(f for f in tab.frames if "/embed" in f.url)
    target = state(frame)["target"] or None
    close(page_doc(frame), core("recall-lstm", "b12=", target, []))
    clamped = ok(tab, "clamp", {"gate": "forget", "value": 0, "start": 2})
    assert clamped["clamps"][0]["gate"] == "forget"
    close(page_doc(frame), core("recall-lstm", "b12=", target, clamped["clamps"]))
    assert ok(tab, "setModel", "recall-rnn")["model"] == "recall-rnn"
    assert frame.evaluate("window.lstmExplainer.getTrace().model.id") == "recall-rnn"
    tab.screenshot(path=artifacts / "site-embed.png")


def test_the_gallery_plays_scenes_and_the_lab(site_tab: Any, site: str, artifacts: Path) -> None:
    tab = site_tab
    tab.goto(f"{site}/scenes")
    cards = tab.locator(".scene-card")
    names = cards.evaluate_all("(cs) => cs.map((c) => c.dataset.scene)")
    # the scenes whose models the site carries, and the lab (it needs none)
    assert "long-context" in names and "vanishing-lab" in names and "shakespeare" not in names
    tab.screenshot(path=artifacts / "site-scenes.png")
    tab.locator(".scene-card[data-scene='long-context'] .primary-link").click()
    tab.wait_for_function("() => document.body.dataset.scene === 'long-context/0'", timeout=30_000)
    wait_ready(tab, timeout=30_000)
    tab.locator("body").press("PageDown")
    tab.wait_for_function("() => document.body.dataset.scene === 'long-context/1'")
    tab.goto(f"{site}/scenes")
    tab.locator(".scene-card[data-scene='vanishing-lab'] .primary-link").click()
    tab.wait_for_function("() => document.body.dataset.plotsReady === '1'", timeout=30_000)
    assert tab.locator("#lab-plot .scatterlayer .trace").count() >= 1
    tab.goto(f"{site}/lab?scene=vanishing-lab&embed=1")
    tab.wait_for_function("() => document.body.dataset.plotsReady === '1'", timeout=30_000)
    assert tab.locator(".topbar").count() == 0
    tab.screenshot(path=artifacts / "site-lab-embed.png")
