"""The lecture model in a real browser: a word the vocabulary lacks reads as its pieces, drawn joined in the
token strip; the target box takes that whole word (its probability the product of its pieces'); and the
continuation panel samples with a seed that is shown, kept in the link, and writes the same text again.
Screenshots land in tests/e2e/artifacts/."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import httpx

from .conftest import state, trace, wait_ready
from .test_explorer import url

ZOLTAN = "My friend Zoltan grew up in Hungary, and after all these years he still speaks"


def test_pieces_of_a_word_are_drawn_joined_and_a_whole_word_is_a_target(tab: Any, server: str, artifacts: Path) -> None:
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(url(server, model="lecture-lstm", text=ZOLTAN, target="zoltan"))
    wait_ready(tab)
    doc = trace(tab)
    tokens = doc["tokens"]
    pieces = [t for t in tokens if t["join"]]
    assert pieces, "Zoltan is not a whole word of the vocabulary: it reads as pieces"
    assert "".join(t["text"] for t in tokens[2 : 3 + len(pieces)]) == "zoltan"
    assert not any(t["unknown"] for t in tokens)
    # one list item per word: Zoltan's pieces share one, every other word has its own
    items = tab.locator("#tokens .token-list > li")
    assert items.count() == len(tokens) - len(pieces)
    zoltan = items.nth(2)
    assert zoltan.locator(".chip").count() == 1 + len(pieces)
    assert zoltan.locator(".chip.piece").count() == len(pieces)
    assert "continues the word" in (zoltan.locator(".chip.piece").first.get_attribute("aria-label") or "")
    boxes = [zoltan.locator(".chip").nth(k).bounding_box() for k in range(1 + len(pieces))]
    for left, right in itertools.pairwise(boxes):  # touching, on one line
        assert left and right and abs(right["x"] - (left["x"] + left["width"])) < 1.5 and left["y"] == right["y"]
    # the target is the whole word: its probability the product of its pieces', its loss that of the word
    assert doc["target"]["text"] == "zoltan"
    last = doc["steps"][-1]
    assert last["expected"]["token"] == "zoltan"
    assert 0 < last["expected"]["p"] < 1 and abs(last["loss"] + math.log(last["expected"]["p"])) < 1e-5
    assert doc["gradients"] is not None
    tab.locator("#tokens").screenshot(path=artifacts / "lecture-word-pieces.png")
    tab.screenshot(path=artifacts / "lecture-zoltan-1280.png")


def test_a_sampled_continuation_is_kept_by_its_seed(tab: Any, server: str, artifacts: Path) -> None:
    line = "To be, or not to be, that is the question:\n"
    tab.goto(url(server, model="shakespeare-lstm", text=line, panels="continuation"))
    wait_ready(tab)
    written = tab.locator("#continuation mark.generated")
    written.first.wait_for()
    greedy = written.first.text_content()
    assert tab.locator("#continuation-mode").input_value() == ""
    assert not tab.locator("#continuation-reseed").is_visible()
    tab.locator("#continuation-mode").select_option("0.8")
    tab.wait_for_function("() => /^0\\.8:40:\\d+$/.test(window.lstmExplainer.getState().sample)")
    sample = state(tab)["sample"]
    seed = sample.split(":")[2]
    tab.wait_for_function(
        "(g) => { const m = document.querySelector('#continuation mark.generated'); return m && m.textContent !== g; }",
        arg=greedy,
    )
    first = written.first.text_content()
    assert f"seed {seed}" in tab.locator("#continuation").inner_text()
    assert f"sample={sample.replace(':', '%3A')}" in tab.url
    # the page wrote what the API writes for that seed
    api = httpx.post(
        f"{server}/api/continue",
        json={"model": "shakespeare-lstm", "text": line, "temperature": 0.8, "top_k": 40, "seed": int(seed)},
    ).json()
    assert api["continuation"] == first
    tab.locator("details[data-panel='continuation']").screenshot(path=artifacts / "continuation-sampled.png")
    # the link writes the same text again
    link = tab.url
    tab.goto(link)
    wait_ready(tab)
    tab.locator("#continuation mark.generated").first.wait_for()
    assert tab.locator("#continuation mark.generated").first.text_content() == first
    assert tab.locator("#continuation-mode").input_value() == "0.8"
    # a new seed writes something else, and greedy again is greedy
    tab.locator("#continuation-reseed").click()
    tab.wait_for_function("(s) => window.lstmExplainer.getState().sample !== s", arg=sample)
    tab.wait_for_function(
        "(f) => { const m = document.querySelector('#continuation mark.generated'); return m && m.textContent !== f; }",
        arg=first,
    )
    tab.locator("#continuation-mode").select_option("")
    tab.wait_for_function(
        "(g) => document.querySelector('#continuation mark.generated')?.textContent === g", arg=greedy
    )
    assert state(tab)["sample"] == ""
