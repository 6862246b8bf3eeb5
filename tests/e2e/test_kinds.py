"""The explorer on a classifier and a forecaster (issue 14), in headless Chromium: the verdict beside the
diagram at every step (and "not" flipping it), the attribution colouring the token strip, the target box
asking for a label, the forecaster's line chart of the series and its forecasts, and letters refused in the
forecaster's text box. Screenshots at 1280×720 and in a 960×540 embed go to tests/e2e/artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import trace, wait_ready
from .test_explorer import url

NOT_GOOD = "the actors were great but the film was not good"


def reading(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
          const panel = document.querySelector('.kind-reading');
          const rows = [...panel.querySelectorAll('.kind-class')].map((li) => ({
            label: li.dataset.label, p: li.querySelector('.kind-p').textContent }));
          return { hidden: panel.hidden, headline: panel.querySelector('.kind-headline')?.textContent ?? '',
                   verdict: panel.querySelector('.kind-verdict')?.textContent ?? '', rows,
                   predictionsHidden: document.querySelector('[data-panel=predictions]').hidden };
        }"""
    )


def test_the_classifier_reads_its_verdict_at_every_step(tab: Any, server: str, artifacts: Path) -> None:
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(url(server, model="sentiment-lstm", text=NOT_GOOD, target="negative"))
    wait_ready(tab)
    r = reading(tab)
    assert not r["hidden"] and r["predictionsHidden"], r
    assert r["verdict"] == "negative" and {row["label"] for row in r["rows"]} == {"negative", "positive"}
    doc = trace(tab)
    words = [t["text"] for t in doc["tokens"]]
    # the reading after "great" is positive, and "not good" turns it at the end
    tab.keyboard.press("Home")
    for _ in range(words.index("great")):
        tab.keyboard.press("ArrowRight")
    tab.wait_for_function("() => document.querySelector('.kind-headline').textContent.includes('great')")
    assert reading(tab)["verdict"] == "positive"
    tab.keyboard.press("End")
    tab.wait_for_function("() => document.querySelector('.kind-headline').textContent.includes('good')")
    assert reading(tab)["verdict"] == "negative"
    # the verdict chart has a point per word, and the strip is coloured by the attribution
    points = tab.evaluate("() => document.querySelector('.kind-verdict-line').getAttribute('points').split(' ').length")
    assert points == len(words)
    labels = tab.evaluate(
        "() => [...document.querySelectorAll('#tokens .chip')].map((c) => c.getAttribute('aria-label'))"
    )
    assert all("attribution" in a for a in labels), labels[:3]
    colours = tab.evaluate("() => [...document.querySelectorAll('#tokens .chip')].map((c) => c.style.background)")
    assert len(set(colours)) > 3 and all(colours), colours
    # the target box asks for a label and suggests the classes
    assert tab.evaluate("() => [...document.getElementById('kind-labels').options].map((o) => o.value)") == [
        "negative",
        "positive",
    ]
    assert "True label" in tab.inner_text("label[for=target-input]")
    tab.locator(".kind-reading").scroll_into_view_if_needed()
    tab.screenshot(path=str(artifacts / "kinds-sentiment-1280.png"))


def test_a_label_the_classifier_lacks_is_refused_beside_the_target(tab: Any, server: str) -> None:
    tab.goto(url(server, model="sentiment-lstm", text="the film was good"))
    wait_ready(tab)
    tab.fill("#target-input", "happy")
    tab.wait_for_function("() => !document.getElementById('target-error').hidden")
    assert "labels ['negative', 'positive']" in tab.inner_text("#target-error")


def test_the_forecaster_draws_the_series_and_its_forecasts(tab: Any, server: str, artifacts: Path) -> None:
    tab.set_viewport_size({"width": 1280, "height": 720})
    series = "20, 35, 48, 40, 25, 12, 20, 36, 50, 41, 26, 13"
    tab.goto(url(server, model="series-lstm", text=series, target="21"))
    wait_ready(tab)
    r = reading(tab)
    assert not r["hidden"] and r["predictionsHidden"], r
    doc = trace(tab)
    T = len(doc["tokens"])
    assert [t["value"] for t in doc["tokens"]][:3] == [20, 35, 48]
    chart = tab.evaluate(
        """() => ({
          series: document.querySelector('.kind-series-line').getAttribute('points').split(' ').length,
          forecast: document.querySelector('.kind-forecast-line').getAttribute('points').split(' ').length,
          dots: document.querySelectorAll('.kind-dot').length,
          target: document.querySelectorAll('.kind-target-dot').length })"""
    )
    assert chart == {"series": T, "forecast": T, "dots": T, "target": 1}
    last = doc["steps"][-1]["forecast"]
    assert last["expected"] == 21
    assert f"forecast {last['value']:.2f}" in r["headline"] and "actual 21.00" in r["headline"]
    tab.keyboard.press("Home")
    tab.wait_for_function("() => document.querySelector('.kind-headline').textContent.startsWith('after 20:')")
    tab.locator(".kind-reading").scroll_into_view_if_needed()
    tab.screenshot(path=str(artifacts / "kinds-series-1280.png"))
    # letters are refused next to the text box, with the reason
    tab.fill("#text-input", "20, 35, forty")
    tab.wait_for_function("() => !document.getElementById('text-error').hidden")
    assert "'forty' (item 3) is not a number" in tab.inner_text("#text-error")


def test_the_new_kinds_in_an_embed(tab: Any, server: str, artifacts: Path) -> None:
    tab.set_viewport_size({"width": 960, "height": 540})
    for model, text, target in (("sentiment-rnn", NOT_GOOD, "negative"), ("series-rnn", "20 35 48 40 25 12", "")):
        tab.goto(url(server, "/embed", model=model, text=text, target=target, panels="predictions"))
        wait_ready(tab)
        tab.screenshot(path=str(artifacts / f"kinds-embed-{model}.png"))
        assert trace(tab)["model"]["task_kind"] in ("classifier", "forecaster")
    # the series chart's axis values keep the page's type in a narrow panel (they once scaled with the SVG to 5 px)
    tab.goto(url(server, "/embed", scene="forecast"))
    wait_ready(tab)
    sizes = tab.eval_on_selector_all(".kind-axis", "els => els.map((e) => e.getBoundingClientRect().height)")
    assert len(sizes) == 2 and min(sizes) >= 11, sizes


def test_compare_mode_reads_two_classifiers_and_two_forecasters(tab: Any, server: str) -> None:
    """Compare mode's predictions show a classifier's classes and a forecaster's forecast (no page error)."""
    tab.goto(
        url(server, model="sentiment-lstm", compare="sentiment-rnn", text="the film was not good", target="negative")
    )
    wait_ready(tab)
    tab.wait_for_function("() => document.querySelectorAll('#compare .pred-list li').length >= 4")
    rows = tab.evaluate("() => [...document.querySelectorAll('#compare .pred-list .tok')].map((e) => e.textContent)")
    assert set(rows) == {"negative", "positive"}
    tab.goto(url(server, model="series-lstm", compare="series-rnn", text="20 35 48 40 25 12", target="20"))
    wait_ready(tab)
    heads = "[...document.querySelectorAll('#compare .pred-headline')]"
    tab.wait_for_function(f"() => {heads}.filter((e) => e.textContent.startsWith('forecast')).length === 2")
