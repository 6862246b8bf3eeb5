"""Issue 12's layout on a projector (1280×720) and in a slide (960×540), in Chromium: both compared models'
diagrams readable at once (their text ≥ 14 px and no wire's label running into another wire's number or
label), every predicted token's whole name visible in the compare embed, the GRU's h_t label clear of
(1−z)⊙h̃t's, the minimal-pair chart large enough to read outside presenter mode, and the charts' colours
asked of colors.js. Screenshots land in tests/e2e/artifacts/hall-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import wait_ready
from .test_compare import wait_compare
from .test_explorer import url
from .test_stage import SPAIN, check_figure, min_text_px

# Where a wire's label or number runs into another wire's: the boxes of every strip label and value badge
# on screen, and the pairs of two different wires whose boxes overlap by more than 2 px each way (a label
# touching its own number is its caption, not a collision).
COLLISIONS = """(selector) => {
  const svg = document.querySelector(`${selector} svg`);
  const marks = [];
  for (const strip of svg.querySelectorAll('.strip')) {
    for (const el of strip.querySelectorAll('.strip-label, .big-bg')) {
      const r = el.getBoundingClientRect();
      if (r.width && r.height && getComputedStyle(el).visibility !== 'hidden')
        marks.push({ q: strip.dataset.q, what: el.classList.contains('big-bg') ? 'number' : 'label', r });
    }
  }
  const out = [];
  for (let i = 0; i < marks.length; i++)
    for (let j = i + 1; j < marks.length; j++) {
      const [a, b] = [marks[i], marks[j]];
      if (a.q === b.q || (a.what === 'number' && b.what === 'number')) continue;
      const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
      const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
      if (w > 2 && h > 2) out.push(`${a.q} ${a.what} × ${b.q} ${b.what} (${w.toFixed(0)}×${h.toFixed(0)} px)`);
    }
  return out;
}"""


def box(tab: Any, selector: str) -> dict[str, float]:
    return tab.evaluate("(s) => document.querySelector(s).getBoundingClientRect().toJSON()", selector)


@pytest.mark.parametrize("where", ["present", "embed"])
@pytest.mark.parametrize(("main", "other"), [("grammar-lstm", "grammar-rnn"), ("lecture-lstm", "lecture-gru")])
def test_both_compared_diagrams_read_at_1280x720(
    tab: Any, server: str, artifacts: Path, where: str, main: str, other: str
) -> None:
    w, h = 1280, 720
    tab.set_viewport_size({"width": w, "height": h})
    fields = {"model": main, "compare": other, "text": SPAIN, "target": "spanish"}
    tab.goto(url(server, **fields, present=1) if where == "present" else url(server, "/embed", **fields))
    wait_ready(tab)
    wait_compare(tab)
    tab.locator(".compare-tabs").get_by_role("button", name="both").click()
    tab.wait_for_timeout(300)  # the diagrams' text is fitted in a ResizeObserver callback
    for selector in ("#diagram", "#compare-diagram"):
        assert check_figure(tab, selector, w, h) >= 14 - 0.01, selector
        assert tab.evaluate(COLLISIONS, selector) == [], selector
    a, b = box(tab, "#diagram svg"), box(tab, "#compare-diagram svg")
    # Each drawn at least ~600 px wide (side by side) or ~290 px tall (stacked): not squashed beside a panel.
    assert min(a["width"], b["width"]) > 580 or min(a["height"], b["height"]) > 285, (a, b)
    tab.screenshot(path=artifacts / f"hall-compare-both-{where}-{main}-{w}x{h}.png")


def test_a_single_diagram_keeps_its_large_numbers(tab: Any, server: str) -> None:
    # The cap on the lecture level's numbers (DIAGRAM.lecture.maxScale) is for a diagram drawn small: on
    # the 1280×720 presenter stage the numbers stay larger than the labels.
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(url(server, model="grammar-lstm", text=SPAIN, target="spanish", present=1, units="4"))
    wait_ready(tab)
    sizes = tab.evaluate(
        """() => ['.big-val', '.strip-label'].map((c) => Math.min(...[...document.querySelectorAll(`#diagram ${c}`)]
             .filter((t) => t.getBoundingClientRect().width)
             .map((t) => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)))"""
    )
    assert sizes[0] > 1.3 * sizes[1], sizes  # 1.4× the smallest text (DIAGRAM.lecture.overText)
    assert tab.evaluate(COLLISIONS, "#diagram") == []


PRED_LABELS = """() => [...document.querySelectorAll('#compare .compare-col .pred-list li')].map((li) => {
  const tok = li.querySelector('.tok'), bar = li.querySelector('.bar');
  return { name: tok.textContent, scroll: tok.scrollWidth, client: tok.clientWidth,
           overflow: getComputedStyle(tok).textOverflow, right: tok.getBoundingClientRect().right,
           barLeft: bar.getBoundingClientRect().left,
           bar: bar.getBoundingClientRect().width };
})"""


@pytest.mark.parametrize(("w", "h"), [(960, 540), (1280, 720), (640, 360)])
def test_every_predicted_token_shows_its_whole_name_in_the_compare_embed(
    tab: Any, server: str, artifacts: Path, w: int, h: int
) -> None:
    tab.set_viewport_size({"width": w, "height": h})
    tab.goto(url(server, "/embed", model="grammar-lstm", compare="grammar-rnn", text=SPAIN, target="spanish"))
    wait_ready(tab)
    wait_compare(tab)
    rows = tab.evaluate(PRED_LABELS)
    names = {r["name"] for r in rows}
    assert {"spanish", "portuguese", "hungarian"} <= names, names  # the long names of the two lists
    for r in rows:
        assert r["scroll"] <= r["client"] and r["overflow"] != "ellipsis", r
        assert r["right"] <= r["barLeft"] + 0.5, r  # the name ends before its bar starts
        assert r["bar"] >= 12, r  # the bar keeps a track to be read on
    side = tab.evaluate("() => ['scrollWidth', 'clientWidth'].map((k) => document.querySelector('.embed-side')[k])")
    assert side[0] <= side[1], side  # nothing scrolls sideways
    tab.locator("#compare").screenshot(path=artifacts / f"hall-compare-predictions-{w}x{h}.png")


GRU_LABELS = """() => {
  const at = (q) => document.querySelector(`#diagram .strip[data-q='${q}'] .strip-label`)
    .getBoundingClientRect().toJSON();
  return { hidden: at('hidden'), write: at('gru_write') };
}"""


@pytest.mark.parametrize(
    ("w", "h", "path", "extra"),
    [
        (1280, 720, "/", {"present": 1}),
        (960, 540, "/embed", {}),
        (640, 360, "/embed", {}),
        (1920, 1080, "/", {"present": 1}),
    ],
)
def test_the_grus_h_label_is_clear_of_the_written_label(
    tab: Any, server: str, artifacts: Path, w: int, h: int, path: str, extra: dict[str, Any]
) -> None:
    tab.set_viewport_size({"width": w, "height": h})
    tab.goto(url(server, path, model="lecture-gru", text=SPAIN, target="spanish", **extra))
    wait_ready(tab)
    tab.wait_for_timeout(200)
    b = tab.evaluate(GRU_LABELS)
    a, c = b["hidden"], b["write"]
    apart = a["right"] <= c["left"] or c["right"] <= a["left"] or a["bottom"] <= c["top"] or c["bottom"] <= a["top"]
    assert apart, b
    assert tab.evaluate(COLLISIONS, "#diagram") == []
    assert check_figure(tab, "#diagram", w, h) >= min_text_px(w, h) - 0.01
    tab.screenshot(path=artifacts / f"hall-gru-{path.strip('/') or 'present'}-{w}x{h}.png")


def test_the_charts_take_their_colours_from_colors_js(tab: Any, server: str) -> None:
    # plotTheme (views/plot.js) is colors.js's chartColours and the page's type size, in either theme.
    tab.goto(url(server, model="grammar-lstm", text=SPAIN, panels=""))
    wait_ready(tab)
    for theme in ("light", "dark"):
        tab.evaluate("(t) => window.lstmExplainer.setState({ theme: t })", theme)
        same = tab.evaluate(
            """async () => {
              const { chartColours } = await import('/static/js/colors.js');
              const { plotTheme } = await import('/static/js/views/plot.js');
              const a = chartColours(), b = plotTheme();
              return ['fg', 'muted', 'grid', 'bg', 'accent'].every((k) => a[k] === b[k] && a[k])
                && a.gate('forget') === b.gate('forget') && Boolean(a.gate('forget'));
            }"""
        )
        assert same, theme


PAIR_CHART = """() => {
  const div = document.querySelector('#pair .pair-plot');
  const r = div.getBoundingClientRect();
  const fonts = [...div.querySelectorAll('text')].filter((t) => t.textContent.trim() && t.getBoundingClientRect().width)
    .map((t) => parseFloat(getComputedStyle(t).fontSize));
  return { left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, minFont: Math.min(...fonts),
           lines: div._fullLayout.yaxis._length, bars: div._fullLayout.yaxis2._length, legend: div.layout.showlegend };
}"""


@pytest.mark.parametrize("how", ["scene", "link"])
def test_the_pair_chart_reads_at_1280x720_outside_presenter_mode(
    tab: Any, server: str, artifacts: Path, how: str
) -> None:
    w, h = 1280, 720
    tab.set_viewport_size({"width": w, "height": h})
    france = SPAIN.replace("Spain", "France")
    link = (
        f"{server}/?scene=minimal-pair"
        if how == "scene"
        else url(server, model="lecture-gru", text=SPAIN, target="spanish", pair=france, panels="pair")
    )
    tab.goto(link)
    tab.wait_for_function(
        "() => document.body.dataset.pairReady === '1' && document.querySelector('#pair .pair-plot')?.data",
        timeout=30_000,
    )
    tab.wait_for_timeout(300)  # the chart is drawn again to its box once the stage's height has settled
    c = tab.evaluate(PAIR_CHART)
    assert c["top"] >= 0 and c["bottom"] <= h and c["right"] <= w, c  # on the first screen, no scrolling
    assert c["width"] >= 0.4 * w and c["minFont"] >= 12, c
    # The two sentences' lines get the height to be told apart (35 px before, under a legend's row).
    assert c["lines"] >= 60 and c["bars"] >= 30, c
    tab.screenshot(path=artifacts / f"hall-pair-{how}-{w}x{h}.png")
