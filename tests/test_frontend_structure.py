"""The front end's structure, as STYLE.md asks for it: main.js only assembles (no module-level mutable
state, short), each feature is its own module under static/js/features/, and the arch vocabulary has one
reader (static/js/archs.js) instead of a decision per file."""

from __future__ import annotations

import re
from pathlib import Path

JS = Path(__file__).resolve().parents[1] / "static" / "js"


def test_main_js_only_assembles() -> None:
    source = (JS / "main.js").read_text(encoding="utf-8")
    assert not re.findall(r"^(?:let|var)\s", source, re.M), "main.js has module-level mutable variables"
    assert len(source.splitlines()) < 250


def test_the_features_are_set_up_from_the_page() -> None:
    source = (JS / "main.js").read_text(encoding="utf-8")
    for feature in ("compare", "continuation", "scenes", "embed-commands", "pair", "player", "tracing"):
        assert (JS / "features" / f"{feature}.js").exists(), feature
        assert f"./features/{feature}.js" in source, feature


def test_no_module_but_archs_js_names_an_arch() -> None:
    # The engine (static/js/engine/) is the cells' port, not a reader of the vocabulary.
    offenders = [
        str(path.relative_to(JS))
        for path in JS.rglob("*.js")
        if "engine" not in path.parts and path.name != "archs.js"
        if re.search(r"""arch === ['"]|\(arch\) === ['"]|['"](?:irnn|cifg)['"]""", path.read_text(encoding="utf-8"))
    ]
    assert not offenders, offenders


def test_the_charts_ask_colors_js_for_their_colours() -> None:
    # colors.js is the one owner of colours (STYLE.md 16): plot.js and the charts drawn with it read no
    # CSS variable themselves.
    charts = [JS / "views" / "plot.js"] + [
        path for path in (JS / "views").glob("*.js") if "from './plot.js'" in path.read_text(encoding="utf-8")
    ]
    assert len(charts) >= 5, charts
    offenders = [path.name for path in charts if "getPropertyValue" in path.read_text(encoding="utf-8")]
    assert not offenders, offenders
    assert "from '../colors.js'" in (JS / "views" / "plot.js").read_text(encoding="utf-8")
