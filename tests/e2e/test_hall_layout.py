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


def test_a_large_cell_state_fits_its_badge(tab: Any, server: str) -> None:
    # The long-context scene's last page: the erased LSTM's cell unit at −14.12 touched its badge's edges (0.7 px).
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(f"{server}/?scene=long-context&page=5&present=1")
    wait_ready(tab)
    badges = tab.evaluate(
        """() => [...document.querySelectorAll('#diagram .big')].map((g) => {
             const bg = g.querySelector('.big-bg').getBoundingClientRect();
             const t = g.querySelector('.big-val').getBoundingClientRect();
             const text = g.querySelector('.big-val').textContent;
             return { text, over: Math.max(bg.left - t.left, t.right - bg.right) };
           })"""
    )
    assert any(abs(float(b["text"].replace("−", "-"))) >= 10 for b in badges), badges  # the case is on screen
    assert all(b["over"] <= -3 for b in badges), badges  # 3 px clear of each edge, as −1.00 is (7.7 px)


# Every row of the next-token lists under `selector`: the name's box and whether its text fits it, the
# bar's track and fill, the percentage, the row, and the row's probability as its aria-label says.
PRED_ROWS = """(selector) => [...document.querySelectorAll(`${selector} .pred-list li`)].map((li) => {
  const box = (el) => el.getBoundingClientRect().toJSON();
  const tok = li.querySelector('.tok');
  return { name: tok.textContent, scroll: tok.scrollWidth, client: tok.clientWidth,
           overflow: getComputedStyle(tok).textOverflow, tok: box(tok), bar: box(li.querySelector('.bar')),
           fill: li.querySelector('.bar .fill').getBoundingClientRect().width, p: box(li.querySelector('.p')),
           li: box(li), label: li.getAttribute('aria-label') };
})"""


def apart(a: dict[str, float], b: dict[str, float]) -> bool:
    e = 0.5
    across = a["right"] <= b["left"] + e or b["right"] <= a["left"] + e
    return across or a["bottom"] <= b["top"] + e or b["bottom"] <= a["top"] + e


def check_rows(rows: list[dict[str, Any]]) -> str:
    """Each name whole and clear of its bar and number, each bar on 0–100%; returns the layout seen:
    'line' (name, bar, % in one line) or 'stacked' (name and % above the bar)."""
    assert rows
    layouts = set()
    for r in rows:
        assert r["scroll"] <= r["client"] and r["overflow"] != "ellipsis", r  # the whole name
        assert apart(r["tok"], r["bar"]) and apart(r["tok"], r["p"]) and apart(r["bar"], r["p"]), r
        for part in ("tok", "bar", "p"):
            assert r["li"]["left"] - 0.5 <= r[part]["left"] and r[part]["right"] <= r["li"]["right"] + 0.5, (part, r)
        assert r["bar"]["width"] >= 12, r  # a track to read the length against
        p = float(r["label"].split(": ")[1].split("%")[0]) / 100
        assert abs(r["fill"] / r["bar"]["width"] - p) < 0.02, r  # on the absolute 0–100% scale
        layouts.add("stacked" if r["bar"]["top"] >= r["tok"]["bottom"] - 0.5 else "line")
    assert len(layouts) == 1, layouts
    return layouts.pop()


@pytest.mark.parametrize(("w", "h"), [(960, 540), (1280, 720), (640, 360)])
def test_every_predicted_token_shows_its_whole_name_in_the_compare_embed(
    tab: Any, server: str, artifacts: Path, w: int, h: int
) -> None:
    tab.set_viewport_size({"width": w, "height": h})
    tab.goto(url(server, "/embed", model="grammar-lstm", compare="grammar-rnn", text=SPAIN, target="spanish"))
    wait_ready(tab)
    wait_compare(tab)
    rows = tab.evaluate(PRED_ROWS, "#compare .compare-col")
    names = {r["name"] for r in rows}
    assert {"spanish", "portuguese", "hungarian"} <= names, names  # the long names of the two lists
    # Two columns in an embed's side are narrow: name and % on a line, the bar under them.
    assert check_rows(rows) == "stacked"
    side = tab.evaluate("() => ['scrollWidth', 'clientWidth'].map((k) => document.querySelector('.embed-side')[k])")
    assert side[0] <= side[1], side  # nothing scrolls sideways
    tab.locator("#compare").screenshot(path=artifacts / f"hall-compare-predictions-{w}x{h}.png")


@pytest.mark.parametrize(
    ("w", "h", "path", "extra", "layout"),
    [
        (1920, 1080, "/", {}, "line"),  # the stage's side, 28em: one line, the name column the longest name's
        (1280, 720, "/", {"present": 1}, "stacked"),  # the presenter's side, ~14em of large type
        (960, 540, "/embed", {}, "stacked"),  # an embed's side, 161 px: names were cut to "spanis", "portu"
        (640, 360, "/embed", {}, "stacked"),
        (390, 844, "/", {}, "stacked"),  # under the stage on a phone
    ],
)
def test_predicted_names_are_never_cut(
    tab: Any, server: str, artifacts: Path, w: int, h: int, path: str, extra: dict[str, Any], layout: str
) -> None:
    tab.set_viewport_size({"width": w, "height": h})
    tab.goto(url(server, path, model="lecture-lstm", text=SPAIN, target="spanish", panels="predictions", **extra))
    wait_ready(tab)
    rows = tab.evaluate(PRED_ROWS, "#predictions")
    assert {"spanish", "portuguese", "ukrainian"} <= {r["name"] for r in rows}  # the longest names in the list
    assert check_rows(rows) == layout
    if layout == "line":
        # The name column is as wide as the longest name, no wider: the bar has the rest.
        widths = {round(r["tok"]["width"], 1) for r in rows}
        assert len(widths) == 1 and all(r["scroll"] == r["client"] for r in rows if r["name"] == "portuguese")
    tab.locator("#predictions").screenshot(path=artifacts / f"hall-predictions-{w}x{h}.png")


# The actual next token's (or the target's) rows, where they are drawn and the box that shows them.
TARGET_ROWS = """() => [...document.querySelectorAll('.pred-list li.expected')]
  .filter((li) => li.getClientRects().length).map((li) => {
  const r = li.getBoundingClientRect();
  let view = { top: 0, bottom: innerHeight };
  for (let el = li.parentElement; el; el = el.parentElement) {
    const o = getComputedStyle(el).overflowY;
    if (o !== 'auto' && o !== 'scroll') continue;
    const b = el.getBoundingClientRect();
    view = { top: b.top, bottom: b.bottom };
    break;
  }
  return { label: li.getAttribute('aria-label'), top: r.top, bottom: r.bottom, view, vh: innerHeight };
})"""


@pytest.mark.parametrize(
    ("w", "h", "fields"),
    [
        # The RNN gives "spanish" 0.3%: its row comes after its eight likeliest, under the fold of its column.
        (960, 540, {"compare": "lecture-rnn"}),
        (640, 360, {"compare": "lecture-rnn"}),
        # At "spain" the actual next token, "for", is not among the likeliest eight of a two-line list.
        (640, 360, {"panels": "predictions", "step": 5}),
    ],
)
def test_the_target_row_stays_in_view_in_a_narrow_panel(
    tab: Any, server: str, artifacts: Path, w: int, h: int, fields: dict[str, Any]
) -> None:
    tab.set_viewport_size({"width": w, "height": h})
    tab.goto(url(server, "/embed", model="lecture-lstm", text=SPAIN, target="spanish", **fields))
    wait_ready(tab)
    if "compare" in fields:
        wait_compare(tab)
    rows = tab.evaluate(TARGET_ROWS)
    assert len(rows) == (2 if "compare" in fields else 1), rows
    for r in rows:
        assert max(0, r["view"]["top"]) - 0.5 <= r["top"] and r["bottom"] <= min(r["vh"], r["view"]["bottom"]) + 0.5, r
    tab.screenshot(path=artifacts / f"hall-target-row-{w}x{h}-{'compare' if 'compare' in fields else 'step'}.png")


def test_both_is_offered_only_where_two_diagrams_read(tab: Any, server: str) -> None:
    """Stacked in an embed at least 560 px tall, side by side on a stage at least 1150 px wide; elsewhere
    one diagram at a time (at 960×540 two stacked diagrams came out ~200 px tall each)."""
    fields = {"model": "lecture-lstm", "compare": "lecture-rnn", "text": SPAIN, "target": "spanish"}
    both = tab.locator(".compare-tabs").get_by_role("button", name="both")
    shown = "() => document.querySelector('[data-show]').dataset.show"
    for where, link in (("embed", url(server, "/embed", **fields)), ("present", url(server, **fields, present=1))):
        tab.set_viewport_size({"width": 960, "height": 540})
        tab.goto(link)
        wait_ready(tab)
        wait_compare(tab)
        assert tab.locator(".compare-tabs").is_visible() and not both.is_visible(), where
        tab.set_viewport_size({"width": 1280, "height": 720})
        both.wait_for(state="visible")
        both.click()
        assert tab.evaluate(shown) == "both", where
        # A window made smaller takes "both" back: one diagram, until there is room again.
        tab.set_viewport_size({"width": 960, "height": 540})
        tab.wait_for_function(f"() => ({shown})() === 'main'")
        assert not both.is_visible() and tab.locator("#compare-diagram").is_hidden(), where
        tab.set_viewport_size({"width": 1280, "height": 720})
        tab.wait_for_function(f"() => ({shown})() === 'both'")


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


PAIR_NOTE = """() => {
  const div = document.querySelector('#pair .pair-plot');
  const note = div.querySelector('.annotation-text').getBoundingClientRect();
  const svg = div.querySelector('.main-svg').getBoundingClientRect();
  return { note: note.toJSON(), svg: svg.toJSON() };
}"""


@pytest.mark.parametrize("present", [0, 1])
def test_the_pair_chart_reads_at_960x540(tab: Any, server: str, artifacts: Path, present: int) -> None:
    """Outside presenter mode the chart was below the fold (the chrome took 516 px); in presenter mode its
    token labels were 10 px and the note of the jump ran out of the chart."""
    w, h = 960, 540
    tab.set_viewport_size({"width": w, "height": h})
    france = SPAIN.replace("Spain", "France")
    fields = {"model": "lecture-lstm", "text": SPAIN, "target": "spanish", "pair": france, "panels": "pair"}
    tab.goto(url(server, **fields, **({"present": 1} if present else {})))
    tab.wait_for_function(
        "() => document.body.dataset.pairReady === '1' && document.querySelector('#pair .pair-plot')?.data",
        timeout=30_000,
    )
    tab.wait_for_timeout(300)  # drawn again to its box once the stage's height has settled
    c = tab.evaluate(PAIR_CHART)
    assert c["top"] >= 0 and c["bottom"] <= h and c["right"] <= w, c  # on the first screen
    assert c["minFont"] >= 12, c
    assert c["lines"] >= 60 and c["bars"] >= 30, c
    n = tab.evaluate(PAIR_NOTE)
    assert n["svg"]["left"] - 0.5 <= n["note"]["left"] and n["note"]["right"] <= n["svg"]["right"] + 0.5, n
    tab.screenshot(path=artifacts / f"hall-pair-{'present' if present else 'page'}-{w}x{h}.png")


PHONE_FIELDS = {"model": "lecture-lstm", "text": SPAIN, "target": "spanish"}
FRANCE = SPAIN.replace("Spain", "France")


@pytest.mark.parametrize(
    ("name", "path", "extra"),
    [
        ("page", "/", {"panels": "predictions,clamps,memory,gradients,unrolled,continuation"}),
        ("present", "/", {"present": 1, "panels": "predictions"}),  # the sentence box and the reading bar ran off
        ("present-compare", "/", {"present": 1, "compare": "lecture-rnn"}),
        ("embed", "/embed", {"panels": "predictions"}),  # the step controls and the position: 442 px
        ("embed-compare", "/embed", {"compare": "lecture-rnn"}),
        ("page-pair", "/", {"pair": FRANCE, "panels": "pair"}),  # the pair chart drawn 600 px wide
        ("present-pair", "/", {"present": 1, "pair": FRANCE, "panels": "pair"}),
        ("embed-pair", "/embed", {"pair": FRANCE, "panels": "pair"}),
    ],
)
def test_nothing_scrolls_sideways_at_390(
    tab: Any, server: str, artifacts: Path, name: str, path: str, extra: dict[str, Any]
) -> None:
    w, h = 390, 844
    tab.set_viewport_size({"width": w, "height": h})
    tab.goto(url(server, path, **PHONE_FIELDS, **extra))
    wait_ready(tab)
    if "pair" in extra:
        tab.wait_for_function("() => document.querySelector('#pair .pair-plot')?.data", timeout=30_000)
    if "compare" in extra:
        wait_compare(tab)
    tab.wait_for_timeout(300)
    widths = tab.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
    assert widths[0] <= widths[1], widths
    # The stage's figure lies across the width, not squeezed beside a panel.
    figure = box(tab, "#pair .pair-plot" if "pair" in extra else "#diagram svg")
    assert figure["left"] >= 0 and figure["right"] <= w and figure["width"] >= 0.8 * w, figure
    tab.screenshot(path=artifacts / f"hall-phone-{name}-{w}x{h}.png", full_page=True)


# A gate box's texts stay inside it (a name that does not fit gives way to its symbol or goes), and the
# labels left out where no side was free (CellDiagram.declutter).
GATE_TEXTS = """(selector) => {
  const out = [];
  for (const g of document.querySelectorAll(`${selector} svg .gate-box`)) {
    const box = g.querySelector('rect.box').getBoundingClientRect();
    for (const t of g.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (!r.width || !t.textContent.trim()) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1) out.push(`${g.dataset.gate}: ${t.textContent}`);
    }
  }
  return out;
}"""
HIDDEN_LABELS = """(selector) => [...document.querySelectorAll(`${selector} svg .strip`)]
  .filter((s) => s.querySelector('.strip-label')?.style.visibility === 'hidden').map((s) => s.dataset.q)"""


@pytest.mark.parametrize("model", ["lecture-lstm", "lecture-gru", "lecture-rnn"])
@pytest.mark.parametrize(
    ("w", "h", "path", "extra"),
    [
        (390, 844, "/", {"present": 1}),  # the LSTM's i⊙c̃t ran into f⊙ct−1, its numbers into c̃t and ot
        (390, 844, "/embed", {}),
        (390, 844, "/", {}),  # the explorer's page: the research level
        (640, 360, "/", {}),  # the page's stage at 640×360: i⊙c̃t into f⊙ct−1, "candidate c̃" into "output"
        (640, 360, "/embed", {}),
        (640, 360, "/", {"present": 1}),
        (960, 540, "/embed", {"detail": "research"}),
    ],
)
def test_no_label_runs_into_another_on_a_small_screen(
    tab: Any, server: str, artifacts: Path, model: str, w: int, h: int, path: str, extra: dict[str, Any]
) -> None:
    tab.set_viewport_size({"width": w, "height": h})
    tab.goto(url(server, path, model=model, text=SPAIN, target="spanish", **extra))
    wait_ready(tab)
    tab.wait_for_timeout(200)  # the text is fitted in a ResizeObserver callback
    assert tab.evaluate(COLLISIONS, "#diagram") == []
    assert tab.evaluate(GATE_TEXTS, "#diagram") == []
    if path == "/embed" or extra.get("present"):  # a stage: the figure on the first screen, its text readable
        assert check_figure(tab, "#diagram", w, h) >= min_text_px(w, h) - 0.01
    # Room is found for the labels of the cell's inputs and outputs at every size; only the products' and
    # those of gates named in their box may give way, and only in a figure drawn small (data-detail).
    may_go = {"kept", "written", "tanh_cell", "gru_keep", "gru_write", "candidate", "gru_candidate", "update"}
    hidden = set(tab.evaluate(HIDDEN_LABELS, "#diagram"))
    compact = tab.evaluate("() => document.querySelector('#diagram svg').dataset.detail") == "compact"
    assert hidden <= (may_go if compact else set()), hidden
    where = "present" if extra.get("present") else path.strip("/") or "page"
    tab.locator("#diagram").screenshot(path=artifacts / f"hall-small-{model}-{where}-{w}x{h}.png")
