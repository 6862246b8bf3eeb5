"""`lstm-explainer site OUT_DIR`: the app as a folder of static files — explorer, embed, scenes, gradient lab,
the models and plotly.js — that works from any static web host (or an LMS upload, or
`python -m http.server`) with no Python: the network runs in the page (static/js/engine/, in a module
worker), as in an exported file (app/export.py), but the assets are files the browser caches.

The URLs are the server's, each page a directory's index.html: `/` (the explorer, `?model=…&text=…`,
`?scene=…`), `/embed?…` (answered as `/embed/?…`, which static hosts redirect to), `/scenes`, `/lab?…`,
with the same postMessage API. Pages link to one another relative to themselves (their <body data-root>
names the site's root, static/js/config.js sitePath), so the folder can be served under any sub-path.

    OUT/index.html  embed/index.html  scenes/index.html  lab/index.html
    OUT/static/…                       the app's CSS and modules, as the server serves them
    OUT/vendor/plotly.min.js, plotly.js-LICENSE             vendor/plotly-cartesian.min.js and its licence
    OUT/models/{id}/model.json, weights.safetensors     each model directory as it is
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.api.assets import PLOTLY_JS, PLOTLY_LICENSE, STATIC_DIR, asset_version, module_graph, template_environment
from app.api.cards import public_card
from app.api.routes.pages import page_config
from app.config import get_settings
from app.export import ExportError, carry, model_paths
from app.nn import load_zoo, shipped_models_dir
from app.nn.files import CARD, WEIGHTS, env_model_dirs
from app.scenes import load_scenes, model_problems, scene_dirs


@dataclass
class Site:
    """What was written: the folder and its bytes by part."""

    root: Path
    sizes: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        total = sum(self.sizes.values())
        parts = ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in self.sizes.items())
        return f"{self.root} ({total / 1e6:.1f} MB: {parts})"


# `href="/…"` and `src="/…"` (not `//host`), with the path and the query apart.
ROOTED = re.compile(r'\b(href|src)="/(?!/)([^"?#]*)([^"]*)"')


def relative(html: str, root: str) -> str:
    """The page's root-relative links relative to the page: files as they are, pages as directories."""

    def link(m: re.Match[str]) -> str:
        path = m[2]
        if path and not path.endswith("/") and not re.search(r"\.\w+$", path):
            path += "/"
        return f'{m[1]}="{root}{path}{m[3]}"' if root or path else f'{m[1]}="./{m[3]}"'

    html = ROOTED.sub(link, html)
    return re.sub(r"<body\b", f'<body data-root="{root}"', html, count=1)


def _write(path: Path, text: str) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes(data)
    return len(data)


def write_site(out: Path, models: list[str] | None = None, models_dirs: list[Path] | None = None) -> Site:
    """Write the static site into `out` (created; files of an earlier site there are replaced)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError("bad_out", f"{out} is a file; give the site's directory")
    roots = [shipped_models_dir(), *env_model_dirs(), *(models_dirs or [])]
    zoo = load_zoo(roots[1:])
    chosen = list(zoo.models) if models is None else models
    if unknown := [m for m in chosen if m not in zoo.models]:
        known = ", ".join(sorted(zoo.models)) or "none are loaded"
        raise ExportError("unknown_model", f"there is no model {unknown[0]!r}; available: {known}")
    settings = get_settings()
    paths = model_paths(roots)
    env = template_environment()
    version = asset_version()
    sizes: dict[str, int] = {}

    # the files, as the server serves them
    for sub in ("static", "vendor", "models"):
        shutil.rmtree(out / sub, ignore_errors=True)
    shutil.copytree(STATIC_DIR, out / "static")
    (out / "vendor").mkdir(parents=True)
    shutil.copyfile(PLOTLY_JS, out / "vendor" / "plotly.min.js")  # the URL the pages ask for, as the server's
    shutil.copyfile(PLOTLY_LICENSE, out / "vendor" / PLOTLY_LICENSE.name)
    sizes["app"] = sum(p.stat().st_size for p in (out / "static").rglob("*") if p.is_file())
    sizes["plotly.js"] = sum(p.stat().st_size for p in (out / "vendor").iterdir())
    engine_models = []
    for m in chosen:
        directory = out / "models" / m
        directory.mkdir(parents=True)
        for name in (CARD, WEIGHTS):
            shutil.copyfile(paths[m] / name, directory / name)
        sizes[m] = sum(p.stat().st_size for p in directory.iterdir())
        limits = carry(zoo.models[m], paths[m], settings).limits
        engine_models.append({"id": m, "url": f"models/{m}/", "limits": limits})

    # the scenes: every one whose models the site carries, preloaded in each page (nothing to fetch)
    carried = {m: zoo.models[m] for m in chosen}
    library = load_scenes(scene_dirs(settings.scene_dirs))
    scenes = {
        name: scene.model_dump(mode="json", exclude_none=True)
        for name, scene in library.items()
        if not model_problems(scene, carried)
    }
    for doc in scenes.values():
        doc["problems"] = []

    def engine(root: str) -> dict[str, Any]:
        models = [{**m, "url": root + m["url"]} for m in engine_models]
        return {"models": models, "worker": {"url": f"{root}static/js/engine/worker.js"}}

    def explorer_config(embed: bool, root: str) -> dict[str, Any]:
        config = page_config(zoo, settings, embed=embed)
        config["models"] = [public_card(zoo.models[m]) for m in chosen]
        if config["defaultModel"] not in chosen:
            config["defaultModel"] = chosen[0] if chosen else None
        config["failed"] = []
        config["scenes"] = scenes
        config["engine"] = engine(root)
        config["frameAncestors"] = ["*"]  # a static host says nothing about who may frame it
        return config

    pages = 0
    for path, embed in (("index.html", False), ("embed/index.html", True)):
        root = "../" if embed else ""
        context = {"config": explorer_config(embed, root), "version": version, "embed": embed,
                   "preload_modules": module_graph("main.js")}  # fmt: skip
        html = env.get_template("embed.html" if embed else "index.html").render(**context)
        pages += _write(out / path, relative(html, root))
    lab = {"config": {"version": version, "apiBase": "api", "scenes": scenes, "embed": False}, "version": version,
           "embed": False, "lab_embed": False}  # fmt: skip
    pages += _write(out / "lab" / "index.html", relative(env.get_template("lab.html").render(**lab), "../"))
    cards = []
    for name, scene in library.items():
        if name not in scenes:
            continue
        href = "/lab" if scene.kind == "lab" else "/"
        embed = f"/lab?scene={name}&embed=1" if scene.kind == "lab" else f"/embed?scene={name}"
        cards.append({**scene.summary_row(), "href": f"{href}?scene={name}", "embed": embed,
                      "embed_url": "…" + embed.replace("/embed?", "/embed/?").replace("/lab?", "/lab/?"),
                      "problems": []})  # fmt: skip
    gallery = {"config": {"version": version, "apiBase": "api"}, "version": version, "embed": False,
               "cards": cards, "failed": library.failed}  # fmt: skip
    pages += _write(out / "scenes" / "index.html", relative(env.get_template("scenes.html").render(**gallery), "../"))
    sizes["pages"] = pages
    return Site(out, sizes)
