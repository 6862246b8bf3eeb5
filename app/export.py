"""`lstm-explainer export`: one self-contained HTML file that works opened from disk, with no server and
no network — for a lecture hall whose network is not to be trusted — and still re-traces what is typed.

The page is the explorer's own: templates/index.html rendered with the same `page_config` the server
uses (through templates/export.html, which swaps the asset links for inlined copies), the same ES modules,
and the models it carries: each model's card and its weights file as it is on disk, plus the trace engine
(static/js/engine/). The page's config gets ``"engine": {...}`` (static/js/local-engine.js), and
static/js/api.js then answers every trace and continuation with the engine, in a Web Worker, instead of
the server: typing, clamps, another carried model, compare mode and the gradients all work, with the
server's limits and notices. What needs a server is what is not in the file: another model, the
gallery of scenes, an embed snippet (it names a server URL), the API docs.

How the pieces are stored (Chromium refuses module scripts from file:// and data: URLs cannot resolve
relative imports):
- the modules: every `import … from './x.js'` is rewritten to a bare specifier `lstm/x.js`, and an
  import map maps each specifier to a data: URL of the rewritten module; main.js is an inline module;
- the engine's worker: a page opened from disk has the origin null and may start only a classic worker
  from a blob: URL, so the engine's modules, concatenated in import order without their import and export
  lines, sit in a <script type="text/plain"> that the page turns into a blob;
- each model's weights file and plotly.js are gzip-compressed and base64-encoded in
  <script type="application/octet-stream"> elements, inflated with DecompressionStream; the weights in
  byte planes first (byte k of every 4-byte word together: float32 exponents compress, mantissas hardly);
- a Content-Security-Policy <meta> allows exactly the page's two inline scripts (by hash), data: and
  blob: scripts, a blob: worker, inline styles, and no network at all (`connect-src 'none'`).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup
from pydantic import ValidationError

from app.api.assets import IMPORT_RE, PLOTLY_JS, STATIC_DIR, asset_version, module_imports, template_environment
from app.api.cards import default_model_id, public_card
from app.api.errors import ApiError, describe_validation_errors
from app.api.routes.pages import page_config
from app.api.schemas import TraceRequest
from app.api.tracer import check_request, document_for, gradient_token_limit
from app.config import Settings, get_settings
from app.nn import Model, TraceInputError, Zoo, load_zoo, shipped_models_dir
from app.nn.files import CARD, WEIGHTS, env_model_dirs, model_dirs

MAX_BYTES = 60_000_000  # a page this big is a mistake (every model of the zoo is 20 MB): say so, write nothing
PLOTLY_ELEMENT = "offline-plotly"
WORKER_ELEMENT = "engine-worker"


class ExportError(TraceInputError):
    """Something the export cannot do; the CLI prints the message and exits with status 2."""


# ------------------------------------------------------------------------------------------ the views
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


def check_view(view: dict[str, Any], zoo: Zoo, settings: Settings, where: str = "") -> list[str]:
    """Refuse a view the server would refuse (traced once, without gradients, by the core); return the
    models it shows (its own and the compared one)."""
    raw = {"model": view["model"], "text": view["text"], "target": view.get("target") or None,
           "interventions": view.get("clamps") or [], "gradients": False}  # fmt: skip
    try:
        trace_for(_request(raw), zoo, settings)
        if compare := view.get("compare"):
            trace_for(_request({**raw, "model": compare, "interventions": []}), zoo, settings)
        if pair := view.get("pair"):  # the minimal pair's second sentence: the same model and clamps
            trace_for(_request({**raw, "text": pair}), zoo, settings)
    except TraceInputError as e:
        raise ExportError(e.code, f"{where}{e.message}") from None
    return [view["model"], *([view["compare"]] if view.get("compare") else [])]


# ---------------------------------------------------------------------------------------- the models
def model_paths(roots: list[Path]) -> dict[str, Path]:
    """id → model directory, found as load_zoo finds them (a later directory overrides an earlier one)."""
    paths: dict[str, Path] = {}
    for root in roots:
        for path in model_dirs(Path(root)):
            try:
                paths[json.loads((path / CARD).read_text(encoding="utf-8"))["id"]] = path
            except (OSError, ValueError, KeyError, TypeError):
                continue  # load_zoo reported it
    return paths


def pack(data: bytes) -> str:
    """gzip, then base64: what the page's `inflateElement()` undoes."""
    return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii")


def unpack(text: str) -> bytes:
    return gzip.decompress(base64.b64decode(text))


def planes(data: bytes) -> bytes:
    """A 4-byte length, then byte k of every 4-byte word for k = 0..3 (static/js/local-engine.js weightsFrom)."""
    words = -(-len(data) // 4)
    padded = np.frombuffer(data + bytes(4 * words - len(data)), dtype=np.uint8).reshape(words, 4)
    return len(data).to_bytes(4, "little") + padded.T.tobytes()


def unplanes(data: bytes) -> bytes:
    n = int.from_bytes(data[:4], "little")
    words = -(-n // 4)
    return np.frombuffer(data[4:], dtype=np.uint8).reshape(4, words).T.tobytes()[:n]


@dataclass
class Carried:
    """A model the page carries: its card (model.json as it is), its packed weights file, and the limits
    the server would put on it."""

    model: Model
    card: dict[str, Any]
    weights: str  # pack(planes(weights.safetensors))
    limits: dict[str, int]
    element: str = ""

    @property
    def size(self) -> int:
        return len(self.weights) + len(json.dumps(self.card, ensure_ascii=False).encode())


def carry(model: Model, path: Path, settings: Settings) -> Carried:
    limits = {
        "maxChars": settings.max_chars,
        "maxWordTokens": settings.max_word_tokens,
        "maxInterventions": settings.max_interventions,
        "gradientTokens": gradient_token_limit(model, settings),
    }
    card = json.loads((path / CARD).read_text(encoding="utf-8"))
    return Carried(model, card, pack(planes((path / WEIGHTS).read_bytes())), limits)


def stored_weights(html: str, model_id: str) -> bytes:
    """The weights file an exported page carries for `model_id`, decoded (for tests and inspection)."""
    config = json.loads(element_text(html, "app-config"))
    (entry,) = [m for m in config["engine"]["models"] if m["id"] == model_id]
    return unplanes(unpack(element_text(html, entry["weights"])))


def element_text(html: str, element_id: str) -> str:
    m = re.search(rf'<script type="[^"]+" id="{re.escape(element_id)}">(.*?)</script>', html, re.S)
    if not m:
        raise ValueError(f"no #{element_id} in the page")
    return m.group(1)


def engine_script() -> str:
    """The engine's worker as one classic script: its modules in import order (each after what it
    imports), their import lines and export keywords dropped. That works because no two engine modules
    declare the same top-level name (tests/e2e/test_engine_parity.py checks it)."""
    js_dir = STATIC_DIR / "js"
    order: list[str] = []

    def visit(rel: str) -> None:
        if rel in order:
            return
        source = (js_dir / rel).read_text(encoding="utf-8")
        for dep in module_imports(rel, source):
            visit(dep)
        order.append(rel)

    visit("engine/worker.js")
    parts = []
    for rel in order:
        source = (js_dir / rel).read_text(encoding="utf-8")
        source = re.sub(r"^import\s[^;]*?\sfrom\s*['\"][^'\"]+['\"];?[ \t]*$", "", source, flags=re.M)
        source = re.sub(r"^export (?=(?:async )?(?:const|let|class|function))", "", source, flags=re.M)
        if re.search(r"^\s*(?:import|export)\b", source, re.M):
            raise ExportError("bad_asset", f"static/js/{rel} has an import or export the worker bundle cannot drop")
        parts.append(f"// ---- {rel}\n{source}")
    return "'use strict';\n" + "\n".join(parts)


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
    """Each explorer state of the scene as the page will show it (static/js/features/scenes.js load): fields a
    state leaves out take the page's defaults, which in an exported page are the exported view's, except the
    text and target, which belong to the state's model: its card's example, or no target for a text the
    state gives."""
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
    data: URLs, plotly.js and the engine's worker as blob: URLs); inline styles for plotly."""
    scripts = " ".join(csp_hash(s) for s in inline_scripts)
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {scripts} data: blob:",
            "worker-src blob:",
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
@dataclass
class Exported:
    """What was written: the file, and its bytes by part (plotly.js, each carried model, the rest)."""

    path: Path
    sizes: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        total = self.path.stat().st_size
        parts = ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in self.sizes.items())
        return f"{self.path} ({total / 1e6:.1f} MB: {parts})"


def parse_model_ids(raw: list[str] | str | None) -> list[str] | None:
    """`--models a,b` (repeatable) → ['a', 'b']; None when not given."""
    if raw is None:
        return None
    items = [raw] if isinstance(raw, str) else raw
    ids = [m.strip() for item in items for m in str(item).split(",") if m.strip()]
    return list(dict.fromkeys(ids)) or None


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
    models: list[str] | None = None,
) -> Path:
    return export_file(model, text, target, interventions, scene, out, models_dirs, scene_doc=scene_doc,
                       models=models).path  # fmt: skip


def export_file(
    model: str | None,
    text: str | None,
    target: str | None,
    interventions: list[Any] | None,
    scene: str | None,
    out: Path,
    models_dirs: list[Path] | None = None,
    *,
    scene_doc: dict[str, Any] | None = None,
    models: list[str] | None = None,
) -> Exported:
    """Write the offline page to `out`. `scene_doc` stands in for a scene file (tests); `models` names the
    models the page carries (default: those the view and the scene show; they must be among them).

    An explorer scene exports the explorer opening on `model` and `text`, or on the scene's first state
    where they are None; a lab scene (the gradient lab, which computes everything in the page) exports the
    lab page, and `model` and `text` are not used."""
    doc = scene_doc if scene_doc is not None else (load_scene(scene) if scene else None)
    sizes: dict[str, int] = {}
    if doc is not None and doc.get("kind", "explorer") == "lab":
        html = render_lab(doc)
    else:
        html = render_explorer(model, text, target, interventions, doc, models_dirs or [], models, sizes)
    data = html.encode("utf-8")
    if len(data) >= MAX_BYTES:
        raise ExportError(
            "too_large",
            f"the page would be {len(data) / 1e6:.1f} MB, over the {MAX_BYTES / 1e6:.0f} MB budget: "
            "carry fewer models (--models)",
        )
    sizes["plotly.js"] = len(pack(PLOTLY_JS.read_bytes()))
    sizes["the page"] = len(data) - sum(sizes.values())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return Exported(out, sizes)


def render_explorer(
    model: str | None,
    text: str | None,
    target: str | None,
    interventions: list[Any] | None,
    scene: dict[str, Any] | None,
    models_dirs: list[Path],
    models: list[str] | None = None,
    sizes: dict[str, int] | None = None,
) -> str:
    interventions = interventions or []
    if not all(isinstance(c, dict) for c in interventions):
        example = '{"gate": "forget", "value": 0}'
        raise ExportError("bad_intervention", f"each --intervene must be a JSON object, e.g. '{example}'")
    roots = [shipped_models_dir(), *env_model_dirs(), *models_dirs]
    zoo = load_zoo(roots[1:])
    if model is None or text is None:  # named by its scene alone: open on the scene's first state
        given = scene["states"][0].get("state", {}) if scene and scene.get("states") else {}
        model = model or given.get("model") or default_model_id(zoo) or ""
        card = zoo.models[model].card if model in zoo.models else {}
        text = text if text is not None else given.get("text") or card.get("example") or ""
    settings = get_settings()
    first = _request({"model": model, "text": text, "target": target or None, "interventions": interventions})
    clamps = [c.model_dump() for c in first.interventions]
    initial: dict[str, Any] = {"model": model, "text": text, "target": target or "", "clamps": clamps}
    shown = check_view(initial, zoo, settings)
    scenes: dict[str, Any] = {}
    if scene is not None:
        scenes[scene["name"]] = scene
        for where, view in scene_views(scene, initial, zoo):
            shown += check_view(view, zoo, settings, where)
        initial = {**initial, "scene": scene["name"], "page": 0}
    shown = list(dict.fromkeys(shown))
    chosen = shown if models is None else models
    if unknown := [m for m in chosen if m not in zoo.models]:
        known = ", ".join(sorted(zoo.models)) or "none are loaded"
        raise ExportError("unknown_model", f"there is no model {unknown[0]!r}; available: {known}")
    if missing := [m for m in shown if m not in chosen]:
        what = "the scene shows" if scene is not None else "the view shows"
        raise ExportError("missing_model", f"{what} {', '.join(missing)}: add it to --models ({','.join(chosen)})")
    paths = model_paths(roots)
    carried = [carry(zoo.models[m], paths[m], settings) for m in chosen]
    for k, c in enumerate(carried):
        c.element = f"engine-weights-{k}"
        if sizes is not None:
            sizes[c.model.id] = c.size

    config = page_config(zoo, settings, embed=False)
    config["models"] = [public_card(c.model) for c in carried]
    config["defaultModel"] = model
    config["failed"] = []
    config["scenes"] = scenes  # static/js/scenes.js SceneClient's preloaded scenes: never fetched
    config["engine"] = {
        "models": [{"id": c.model.id, "card": c.card, "weights": c.element, "limits": c.limits} for c in carried],
        "worker": {"element": WORKER_ELEMENT},
    }
    offline = {"initial": initial, "models": [c.model.id for c in carried]}
    weights = [{"id": c.element, "data": c.weights} for c in carried]
    worker = _inline(engine_script(), "script")
    return render("index.html", "main.js", config, offline, scene, weights=weights, worker=worker,
                  clamped=bool(clamps))  # fmt: skip


def render_lab(scene: dict[str, Any]) -> str:
    """The gradient lab page playing `scene`: no model, the page computes its curves itself."""
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
