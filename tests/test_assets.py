"""The vendored plotly.js (vendor/, npm's cartesian bundle): shipped in the package, the file its
PROVENANCE.txt names, every trace type the front end draws, and the one copy the server, the exported file
and the static site all use."""

from __future__ import annotations

import hashlib
import re
from importlib import metadata
from pathlib import Path

import pytest

from app.api.assets import PLOTLY_JS, PLOTLY_LICENSE, STATIC_DIR, plotly_provenance, plotly_version
from app.export import PLOTLY_ELEMENT, export_file, unpack
from app.site import write_site

# Every trace type of plotly.js 4.1.1's full bundle: a type the front end names that the vendored bundle
# lacks would be drawn wrong (plotly logs "Unrecognized trace type" and draws a scatter instead).
PLOTLY_TRACE_TYPES = {
    "bar", "barpolar", "box", "candlestick", "carpet", "choropleth", "choroplethmap", "cone", "contour",
    "contourcarpet", "densitymap", "funnel", "funnelarea", "heatmap", "histogram", "histogram2d",
    "histogram2dcontour", "icicle", "image", "indicator", "isosurface", "mesh3d", "ohlc", "parcats", "parcoords",
    "pie", "quiver", "sankey", "scatter", "scatter3d", "scattercarpet", "scattergeo", "scattergl", "scattermap",
    "scatterpolar", "scatterpolargl", "scattersmith", "scatterternary", "splom", "streamtube", "sunburst", "surface",
    "table", "treemap", "violin", "volume", "waterfall"
}  # fmt: skip


def registered_traces(js: str) -> set[str]:
    """The trace modules a plotly.js bundle registers."""
    return set(re.findall(r'moduleType:"trace",name:"(\w+)"', js))


def test_the_file_is_the_one_provenance_names() -> None:
    p = plotly_provenance()
    data = PLOTLY_JS.read_bytes()
    assert p["package"] == "plotly.js-cartesian-dist-min"
    assert hashlib.sha256(data).hexdigest() == p["file-sha256"]
    assert len(data) == int(p["file-bytes"])
    assert re.fullmatch(r"[0-9a-f]{64}", p["tarball-sha256"])
    assert p["tarball"] == f"https://registry.npmjs.org/{p['package']}/-/{p['package']}-{p['version']}.tgz"
    assert p["fetched-with"] == f"npm pack {p['package']}@{p['version']}"


def test_the_version_is_the_files_own() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", plotly_version())
    banner = PLOTLY_JS.read_text(encoding="utf-8")[:200]
    assert f"plotly.js (cartesian - minified) v{plotly_version()}\n" in banner


def test_the_licence_ships_beside_it() -> None:
    text = PLOTLY_LICENSE.read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Plotly" in text and "Permission is hereby granted" in text


def test_the_bundle_has_every_trace_type_the_front_end_draws() -> None:
    bundle = registered_traces(PLOTLY_JS.read_text(encoding="utf-8"))
    assert bundle == set(plotly_provenance()["traces"].split(", "))
    assert bundle < PLOTLY_TRACE_TYPES
    js = "\n".join(p.read_text(encoding="utf-8") for p in (STATIC_DIR / "js").rglob("*.js"))
    drawn = {t for t in re.findall(r"""\btype:\s*['"](\w+)['"]""", js) if t in PLOTLY_TRACE_TYPES}
    assert {"scatter", "heatmap", "bar"} <= drawn  # the memory and gradient panels, the minimal pair
    assert drawn <= bundle, f"not in {plotly_provenance()['package']}: {sorted(drawn - bundle)}"


def test_the_installed_package_carries_it() -> None:
    try:
        files = metadata.files("lstm-explainer") or []
        requires = metadata.requires("lstm-explainer") or []
    except metadata.PackageNotFoundError:
        pytest.skip("lstm-explainer is not installed (pip install .)")
    shipped = {f.as_posix(): f for f in files}
    for name in ("app/vendor/plotly-cartesian.min.js", "app/vendor/plotly.js-LICENSE", "app/vendor/PROVENANCE.txt"):
        assert name in shipped, f"{name} is not in the wheel (pyproject's force-include)"
    installed = Path(shipped["app/vendor/plotly-cartesian.min.js"].locate())
    assert hashlib.sha256(installed.read_bytes()).hexdigest() == plotly_provenance()["file-sha256"]
    # plotly.js comes from vendor/, not from the Python package
    assert not [r for r in requires if re.match(r"plotly\b", r)]


def test_the_export_and_the_site_carry_this_file(tmp_path: Path) -> None:
    exported = export_file("recall-lstm", "c1=", None, [], None, tmp_path / "x.html")
    html = exported.path.read_text(encoding="utf-8")
    m = re.search(rf'<script type="application/octet-stream" id="{PLOTLY_ELEMENT}">(.*?)</script>', html, re.S)
    assert m and unpack(m[1]) == PLOTLY_JS.read_bytes()
    site = write_site(tmp_path / "site", ["recall-lstm"])
    assert (site.root / "vendor" / "plotly.min.js").read_bytes() == PLOTLY_JS.read_bytes()
    assert (site.root / "vendor" / "plotly.js-LICENSE").read_bytes() == PLOTLY_LICENSE.read_bytes()
