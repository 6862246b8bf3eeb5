"""`lstm-explainer export`: one self-contained HTML file that works opened from disk, with no server and
no network — for a lecture hall whose network is not to be trusted.

The page is the explorer's own: templates/index.html rendered with the same `page_config` the server
uses (through templates/export.html, which swaps the asset links for inlined copies), the same ES modules
and the same trace documents `POST /api/trace` would send, computed here by the server's own code path
(`check_request` and `document_for` in app/api/tracer.py) and stored in the page. The page's config gets
``"offline": {...}``; static/js/api.js then answers trace requests from the stored table instead of a
socket, and everything else with an error that says it needs the server.

How the pieces are stored (Chromium refuses module scripts from file:// and data: URLs cannot resolve
relative imports):
- the modules: every `import … from './x.js'` is rewritten to a bare specifier `lstm/x.js`, and an
  import map maps each specifier to a data: URL of the rewritten module; main.js is an inline module;
- the trace table (JSON ``[{"request": {...}, "document": {...}}]``) and plotly.js are gzip-compressed
  and base64-encoded in <script type="application/octet-stream"> elements; the page inflates them with
  DecompressionStream (plotly.js then runs from a blob: URL). Compressed, plotly.js costs 2.0 MB instead
  of 4.8 MB, which leaves room for traces of the big Shakespeare models under the 6 MB budget;
- a Content-Security-Policy <meta> allows exactly the page's two inline scripts (by hash), data: and
  blob: scripts, inline styles, and no network at all (`connect-src 'none'`, `default-src 'none'`).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import math
import posixpath
import re
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from markupsafe import Markup
from pydantic import ValidationError

from app.api.assets import IMPORT_RE, PLOTLY_JS, STATIC_DIR, asset_version, template_environment
from app.api.cards import default_model_id, public_card
from app.api.errors import ApiError, describe_validation_errors
from app.api.routes.pages import page_config
from app.api.schemas import TraceRequest
from app.api.tracer import check_request, continuation_for, document_for
from app.config import Settings, get_settings
from app.nn import TraceInputError, Zoo, load_zoo
from app.nn.files import env_model_dirs

MAX_BYTES = 6_000_000  # the budget the issue sets: the page must stay under 6 MB
TRACES_ELEMENT = "offline-traces"
NUMBERS_ELEMENT = "offline-numbers"
PLOTLY_ELEMENT = "offline-plotly"


class ExportError(TraceInputError):
    """Something the export cannot do; the CLI prints the message and exits with status 2."""


# ------------------------------------------------------------------------------------------ the traces
def _request(raw: dict[str, Any]) -> TraceRequest:
    try:
        return TraceRequest.model_validate(raw)
    except ValidationError as e:
        about_clamps = any("interventions" in map(str, err["loc"]) for err in e.errors())
        code = "bad_intervention" if about_clamps else "bad_request"
        raise ExportError(code, describe_validation_errors(e.errors())) from None


def trace_for(request: TraceRequest, zoo: Zoo, settings: Settings) -> dict[str, Any]:
    """Exactly the document `POST /api/trace` answers `request` with (the same limits, the same notices)."""
    try:
        checked = check_request(request, zoo, settings)
    except ApiError as e:
        raise ExportError(e.code, e.message) from None
    return document_for(checked, request)


class TraceTable:
    """The requests the page will make, each traced once."""

    def __init__(self, zoo: Zoo, settings: Settings) -> None:
        self.zoo = zoo
        self.settings = settings
        self.rows: dict[bytes, dict[str, Any]] = {}
        self.continuations: dict[bytes, dict[str, Any]] = {}

    def add(self, model: str, text: str, target: str | None, clamps: list[Any] | None, where: str = "") -> None:
        raw = {"model": model, "text": text, "target": target or None, "interventions": clamps or []}
        try:
            request = _request(raw)
            key = orjson.dumps(request.model_dump(exclude={"gradients"}))
            if key in self.rows:
                return
            document = trace_for(request, self.zoo, self.settings)
        except TraceInputError as e:
            raise ExportError(e.code, f"{where}{e.message}") from None
        self.rows[key] = {"request": request.model_dump(exclude={"gradients"}), "document": document}

    def add_view(self, view: dict[str, Any], where: str = "") -> None:
        """A view's trace, its unclamped baseline (to toggle the clamps off) and a compared model's trace."""
        model, text, target, clamps = view["model"], view["text"], view.get("target"), view.get("clamps") or []
        self.add(model, text, target, clamps, where)
        length, sample = view.get("length") or 0, view.get("sample") or ""
        self.add_continuation(model, text, length, sample)
        if clamps:
            self.add(model, text, target, [], where)
        if compare := view.get("compare"):
            self.add(compare, text, target, [], where)
            self.add_continuation(compare, text, length, sample)

    def add_continuation(self, model: str, text: str, length: int = 0, sample: str = "") -> None:
        """What `POST /api/continue` answers for {model, text} and `length` tokens (0: the model's default,
        which the page asks for without a length, as main.js requestContinuations does), greedy or sampled
        as the view's `sample` says."""
        if not text or model not in self.zoo.models:
            return
        from app.nn.generate import default_length, sampling_from_state

        found = self.zoo.models[model]
        request: dict[str, Any] = {"model": model, "text": text}
        if length and length != default_length(found):
            request["length"] = length
        sampling = sampling_from_state(sample)
        if not sampling.greedy:
            request.update(temperature=sampling.temperature, top_k=sampling.top_k, seed=sampling.seed)
        key = orjson.dumps(request)
        if key not in self.continuations:
            response = continuation_for(found, text, request.get("length", default_length(found)), sampling)
            self.continuations[key] = {"request": request, "response": response}

    def models(self) -> list[str]:
        return list(dict.fromkeys(row["request"]["model"] for row in self.rows.values()))

    def packed(self) -> tuple[str, str]:
        """The table's JSON with its float lists taken out, and those floats: both packed."""
        pool = NumberPool()
        skeleton = pool.take(orjson.loads(orjson.dumps(list(self.rows.values()), option=orjson.OPT_SERIALIZE_NUMPY)))
        return pack(orjson.dumps(skeleton)), pack(pool.planes())


def pack(data: bytes) -> str:
    """gzip, then base64: what the page's `inflate()` undoes."""
    return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")


def unpack(text: str) -> bytes:
    return gzip.decompress(base64.b64decode(text))


# ----------------------------------------------------------------------------------- the float codec
# A trace is mostly floats rounded to 7 significant digits (app/nn/trace.py round_sig), which JSON spells
# in about 10 characters. Stored instead as decimal mantissa (int32) and exponent (int8), each byte of them
# in its own plane so gzip sees alike bytes together, they take a fifth less room after compression: what
# lets the Shakespeare models' traces fit. Exact: m / 10^k (or m · 10^k) of two exactly representable
# doubles is correctly rounded, so it is the very double JSON.parse gives for the decimal; a list with any
# value that does not come back bit for bit (−0, huge exponents) simply stays JSON.
POW10 = [float(f"1e{k}") for k in range(23)]
MIN_FLOATS = 4  # shorter lists stay JSON: a reference would be no smaller
REF = "$f"  # {"$f": [start, length]} stands for a list of floats


def decimal_parts(v: float) -> tuple[int, int] | None:
    """(m, e) with v == m · 10^e exactly as JSON.parse would read repr(v), or None."""
    mant, _, ex = repr(v).partition("e")
    whole, _, frac = mant.partition(".")
    frac = frac.rstrip("0")
    m, e = int(whole + frac), (int(ex) if ex else 0) - len(frac)
    while m and m % 10 == 0:
        m, e = m // 10, e + 1
    if not (-(2**31) < m < 2**31 and -22 <= e <= 22):
        return None
    back = m / POW10[-e] if e < 0 else m * POW10[e]
    return (m, e) if back == v and math.copysign(1.0, back) == math.copysign(1.0, v) else None


class NumberPool:
    def __init__(self) -> None:
        self.mantissas: list[int] = []
        self.exponents: list[int] = []

    def take(self, x: Any) -> Any:
        """`x` with every list of floats that encodes exactly replaced by a reference into the pool."""
        if isinstance(x, dict):
            return {k: self.take(v) for k, v in x.items()}
        if not isinstance(x, list):
            return x
        if len(x) >= MIN_FLOATS and all(type(v) is float for v in x):
            parts = [decimal_parts(v) for v in x]
            if all(p is not None for p in parts):
                start = len(self.mantissas)
                for m, e in parts:  # type: ignore[misc]
                    self.mantissas.append(m)
                    self.exponents.append(e)
                return {REF: [start, len(x)]}
            return x
        return [self.take(v) for v in x]

    def planes(self) -> bytes:
        """The four bytes of each little-endian int32 mantissa as four planes, then the int8 exponents."""
        m = np.asarray(self.mantissas, dtype="<i4").view(np.uint8).reshape(-1, 4).T
        return m.tobytes() + np.asarray(self.exponents, dtype=np.int8).tobytes()


def unpool(skeleton: Any, planes: bytes) -> Any:
    """What the page's JavaScript does (static/js/api.js), in Python, for the tests."""
    n = len(planes) // 5
    m = np.frombuffer(planes[: 4 * n], dtype=np.uint8).reshape(4, n).T.copy().view("<i4").ravel()
    e = np.frombuffer(planes[4 * n :], dtype=np.int8)
    values = [int(mi) / POW10[-int(ei)] if ei < 0 else int(mi) * POW10[int(ei)] for mi, ei in zip(m, e, strict=True)]

    def put(x: Any) -> Any:
        if isinstance(x, dict):
            if set(x) == {REF}:
                start, length = x[REF]
                return values[start : start + length]
            return {k: put(v) for k, v in x.items()}
        return [put(v) for v in x] if isinstance(x, list) else x

    return put(skeleton)


def stored_traces(html: str) -> list[dict[str, Any]]:
    """The trace table an exported page carries, decoded (for tests and inspection)."""

    def element(element_id: str) -> str:
        m = re.search(rf'<script type="application/octet-stream" id="{element_id}">(.*?)</script>', html, re.S)
        if not m:
            raise ValueError(f"no #{element_id} in the page")
        return m.group(1)

    return unpool(json.loads(unpack(element(TRACES_ELEMENT))), unpack(element(NUMBERS_ELEMENT)))


# ------------------------------------------------------------------------------------------- the scene
def load_scene(name: str) -> dict[str, Any]:
    from app.scenes import SceneError, get_scene, load_scenes

    try:
        return get_scene(name)
    except KeyError:
        known = ", ".join(sorted(load_scenes())) or "none"
        raise ExportError("unknown_scene", f"there is no scene {name!r}; scenes: {known}") from None
    except SceneError as e:
        raise ExportError("bad_scene", str(e)) from None


def scene_views(scene: dict[str, Any], initial: dict[str, Any], zoo: Zoo) -> list[tuple[str, dict[str, Any]]]:
    """Each explorer state of the scene as the page will show it (main.js loadScene): fields a state leaves
    out take the page's defaults, which in an exported page are the exported view's, except the text and
    target, which belong to the state's model: its card's example, or no target for a text the state gives."""
    views = []
    for i, s in enumerate(scene["states"]):
        given = s.get("state", {})
        view = {"compare": "", **initial, **given}
        card = zoo.models[view["model"]].card if view["model"] in zoo.models else {}
        if "text" not in given:
            view["text"] = card.get("example") or view["text"]
        if "target" not in given:
            view["target"] = "" if "text" in given else card.get("example_target", "")
        views.append((f"scene {scene['name']!r}, state {i + 1}: ", view))
    return views


# ----------------------------------------------------------------------------------------- the modules
def bundle_modules(entry: str = "main.js") -> tuple[str, dict[str, str]]:
    """main.js rewritten to import bare specifiers, and the import map's specifier → data: URL table."""
    js_dir = STATIC_DIR / "js"
    sources: dict[str, str] = {}
    pending = [entry]
    while pending:
        rel = pending.pop()
        if rel in sources:
            continue
        path = js_dir / rel
        if not path.is_file():
            raise ExportError("missing_module", f"static/js/{rel} is imported but does not exist")
        source = path.read_text(encoding="utf-8")

        def rewrite(m: re.Match[str], rel: str = rel) -> str:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), m["spec"]))
            pending.append(target)
            return f"{m['head']}{m['quote']}lstm/{target}{m['quote']}"

        sources[rel] = IMPORT_RE.sub(rewrite, source)
    imports = {
        f"lstm/{rel}": "data:text/javascript;base64," + base64.b64encode(src.encode()).decode("ascii")
        for rel, src in sorted(sources.items())
        if rel != entry
    }
    return sources[entry], imports


def _inline(text: str, tag: str) -> Markup:
    """Text placed verbatim inside <tag>…</tag>: it must not close the element early."""
    if f"</{tag}" in text.lower():
        raise ExportError("bad_asset", f"an inlined <{tag}> would contain '</{tag}'")
    return Markup(text)  # our own static files, checked above


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode("ascii") + "'"


def content_security_policy(inline_scripts: list[str]) -> str:
    """No network of any kind; scripts only the page's own (its inline scripts by hash, its modules as
    data: URLs, plotly.js as a blob: URL); inline styles for plotly."""
    scripts = " ".join(csp_hash(s) for s in inline_scripts)
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {scripts} data: blob:",
            "style-src 'unsafe-inline'",
            "img-src data: blob:",
            "font-src data:",
            "connect-src 'none'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


# ---------------------------------------------------------------------------------------------- export
def export_page(
    model: str | None,
    text: str | None,
    target: str | None,
    interventions: list[Any] | None,
    scene: str | None,
    out: Path,
    models_dirs: list[Path] | None = None,
    *,
    scene_doc: dict[str, Any] | None = None,
) -> Path:
    """Write the offline page to `out` and return its path. `scene_doc` stands in for a scene file (tests).

    An explorer scene exports the explorer with every state's traces, opening on `model` and `text`, or
    on the scene's first state where they are None; a lab scene (the gradient lab, which computes
    everything in the page) exports the lab page, and `model` and `text` are not used."""
    doc = scene_doc if scene_doc is not None else (load_scene(scene) if scene else None)
    if doc is not None and doc.get("kind", "explorer") == "lab":
        html = render_lab(doc)
    else:
        html = render_explorer(model, text, target, interventions, doc, models_dirs or [])
    data = html.encode("utf-8")
    if len(data) >= MAX_BYTES:
        raise ExportError(
            "too_large",
            f"the page would be {len(data) / 1e6:.1f} MB, over the {MAX_BYTES / 1e6:.0f} MB budget: "
            "its traces are too big; export a shorter text or a scene with fewer texts",
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


def render_explorer(
    model: str | None,
    text: str | None,
    target: str | None,
    interventions: list[Any] | None,
    scene: dict[str, Any] | None,
    models_dirs: list[Path],
) -> str:
    interventions = interventions or []
    if not all(isinstance(c, dict) for c in interventions):
        example = '{"gate": "forget", "value": 0}'
        raise ExportError("bad_intervention", f"each --intervene must be a JSON object, e.g. '{example}'")
    zoo = load_zoo([*env_model_dirs(), *models_dirs])
    if model is None or text is None:  # named by its scene alone: open on the scene's first state
        given = scene["states"][0].get("state", {}) if scene and scene.get("states") else {}
        model = model or given.get("model") or default_model_id(zoo) or ""
        card = zoo.models[model].card if model in zoo.models else {}
        text = text if text is not None else given.get("text") or card.get("example") or ""
    settings = get_settings()
    table = TraceTable(zoo, settings)
    first = _request({"model": model, "text": text, "target": target or None, "interventions": interventions})
    clamps = [c.model_dump() for c in first.interventions]
    initial: dict[str, Any] = {"model": model, "text": text, "target": target or "", "clamps": clamps}
    table.add_view(initial)
    scenes: dict[str, Any] = {}
    if scene is not None:
        scenes[scene["name"]] = scene
        for where, view in scene_views(scene, initial, zoo):
            table.add_view(view, where)
        initial = {**initial, "scene": scene["name"], "page": 0}

    config = page_config(zoo, settings, embed=False)
    used = set(table.models())
    config["models"] = [public_card(m) for m in zoo.models.values() if m.id in used]
    config["defaultModel"] = model
    config["failed"] = []
    config["scenes"] = scenes  # static/js/scenes.js SceneClient's preloaded scenes: never fetched
    traces, numbers = table.packed()
    offline = {
        "initial": initial,
        "tracesElement": TRACES_ELEMENT,
        "numbersElement": NUMBERS_ELEMENT,
        "continuations": list(table.continuations.values()),
    }
    return render("index.html", "main.js", config, offline, scene, traces=traces, numbers=numbers, clamped=bool(clamps))


def render_lab(scene: dict[str, Any]) -> str:
    """The gradient lab page playing `scene`: no traces, the page computes its curves itself."""
    config = {"embed": False, "version": asset_version(), "apiBase": "/api", "scenes": {scene["name"]: scene}}
    offline = {"initial": {"scene": scene["name"], "page": 0}}
    return render("lab.html", "lab.js", config, offline, scene, lab_embed=False)


def render(
    page: str, entry_module: str, config: dict[str, Any], offline: dict[str, Any], scene: Any, **context: Any
) -> str:
    """`page` (a server template) through templates/export.html, with `entry_module` and its imports inlined."""
    exported = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    config = {**config, "offline": {**offline, "plotlyElement": PLOTLY_ELEMENT, "exported": exported}}
    entry, imports = bundle_modules(entry_module)
    importmap = json.dumps({"imports": imports}, separators=(",", ":"))
    favicon = "data:image/svg+xml;base64," + base64.b64encode((STATIC_DIR / "favicon.svg").read_bytes()).decode()
    return (
        template_environment()
        .get_template("export.html")
        .render(
            page=page,
            config=config,
            version=asset_version(),
            embed=False,
            csp=content_security_policy([importmap, entry]),
            favicon=favicon,
            css=_inline((STATIC_DIR / "css" / "app.css").read_text(encoding="utf-8"), "style"),
            importmap=_inline(importmap, "script"),
            entry=_inline(entry, "script"),
            plotly=pack(PLOTLY_JS.read_bytes()),
            exported=exported,
            scene=scene,
            lab=page == "lab.html",
            **context,
        )
    )
