"""Where the static files, templates and plotly.js (vendor/, from npm) live, and how long browsers may cache them."""

from __future__ import annotations

import gzip
import hashlib
import posixpath
import re
from functools import cache
from importlib import metadata
from pathlib import Path

import jinja2
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

import app as app_package

LONG_CACHE = "public, max-age=31536000, immutable"
# Unversioned URLs (ES modules imported by main.js) revalidate every time, so a new release never mixes
# with a cached old module; the ETag makes that a cheap 304.
SHORT_CACHE = "no-cache"


def resource_dir(name: str) -> Path:
    """`static/` or `templates/`: inside the package when installed from a wheel, else at the repo root."""
    package_dir = Path(app_package.__file__).parent
    installed = package_dir / name
    return installed if installed.is_dir() else package_dir.parent / name


STATIC_DIR = resource_dir("static")
TEMPLATES_DIR = resource_dir("templates")
VENDOR_DIR = resource_dir("vendor")
# The cartesian bundle of plotly.js (every trace type the panels draw, a third of the full bundle's size),
# for the server's /vendor/plotly.min.js, `lstm-explainer export` and `lstm-explainer site` alike.
PLOTLY_JS = VENDOR_DIR / "plotly-cartesian.min.js"
PLOTLY_LICENSE = VENDOR_DIR / "plotly.js-LICENSE"
PROVENANCE = VENDOR_DIR / "PROVENANCE.txt"


@cache
def plotly_provenance() -> dict[str, str]:
    """vendor/PROVENANCE.txt's `key: value` lines: the npm package, version, tarball and sha256s."""
    lines = PROVENANCE.read_text(encoding="utf-8").splitlines()
    return dict(m.groups() for line in lines if (m := re.fullmatch(r"([a-z0-9-]+): (\S.*)", line)))


def plotly_version() -> str:
    return plotly_provenance()["version"]


def template_environment() -> jinja2.Environment:
    """The pages' Jinja2 environment, for the server and for `lstm-explainer export` alike."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    env.policies["json.dumps_kwargs"] = {"sort_keys": False}  # `tojson` keeps gate order as the card gives it
    return env


# A static import or re-export (`import x from '…'`, `import '…'`, `export { a } from '…'`) or a dynamic
# `import('…')` of a relative module.
IMPORT_RE = re.compile(
    r"""(?P<head>\bimport\s*\(\s*|\bimport\s+(?:[\w*{}\s,$]+?\s+from\s+)?|\bexport\s+[\w*{}\s,$]+?\s+from\s+)"""
    r"""(?P<quote>['"])(?P<spec>\.{1,2}/[^'"]+)(?P=quote)"""
)


def module_imports(rel: str, source: str) -> list[str]:
    """The static/js paths a module imports, resolved against its own directory."""
    return [posixpath.normpath(posixpath.join(posixpath.dirname(rel), m["spec"])) for m in IMPORT_RE.finditer(source)]


@cache
def module_graph(entry: str) -> tuple[str, ...]:
    """Every module `entry` (a path under static/js) imports, directly or not, in the order found. The
    pages name them in <link rel="modulepreload">, so the browser fetches them all at once instead of one
    import level at a time, and the list cannot go stale when a module is added or split."""
    js_dir = STATIC_DIR / "js"
    seen: dict[str, None] = {}
    pending = [entry]
    while pending:
        rel = pending.pop(0)
        if rel in seen or not (js_dir / rel).is_file():
            continue
        seen[rel] = None
        pending += module_imports(rel, (js_dir / rel).read_text(encoding="utf-8"))
    return tuple(m for m in seen if m != entry)


def package_version() -> str:
    try:
        return metadata.version("lstm-explainer")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "0.0.0"


@cache
def asset_version() -> str:
    """The package version plus a digest of every asset, so `?v=` changes whenever any file does."""
    digest = hashlib.sha256(plotly_provenance()["file-sha256"].encode())  # another bundle is another ?v=
    if STATIC_DIR.is_dir():
        for path in sorted(p for p in STATIC_DIR.rglob("*") if p.is_file()):
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return f"{package_version()}+{digest.hexdigest()[:10]}"


def cache_control(query: str) -> str:
    """Long for a versioned URL (`?v=...`, which changes with the asset), revalidate otherwise."""
    versioned = any(part.startswith("v=") for part in query.split("&"))
    return LONG_CACHE if versioned else SHORT_CACHE


class CachedStaticFiles(StaticFiles):
    """StaticFiles whose Cache-Control depends on whether the URL is versioned (`?v=...`)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = cache_control(scope.get("query_string", b"").decode("latin-1"))
        return response


@cache
def plotly_gzipped() -> bytes:
    """plotly.js (1.5 MB) compressed once: 300 students loading the page at the same moment
    must not cost 300 compressions."""
    return gzip.compress(PLOTLY_JS.read_bytes(), compresslevel=9, mtime=0)


def plotly_response(request: Request) -> Response:
    headers = {
        "Cache-Control": cache_control(request.url.query),
        # Weak: the same for the gzip and the plain body. The file's digest, not just the version: the full
        # bundle of the same version, cached before, is not this file.
        "ETag": f'W/"plotly-{plotly_version()}-{plotly_provenance()["file-sha256"][:12]}"',
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        # Already compressed, so the GZip middleware leaves it alone.
        headers["Content-Encoding"] = "gzip"
        return Response(plotly_gzipped(), media_type="text/javascript", headers=headers)
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=headers)
