"""The OpenAPI schema (/openapi.json, /docs) states the limits this server enforces, so a request the schema
admits is one the server accepts and a client reading /docs sees the real numbers and names.

FastAPI's schema comes from the pydantic models, which know only the static bounds. When the schema is first
asked for, this writes in what the running server knows: from the settings, the text length and the number of
interventions; from the loaded zoo, the model ids and, per model (one `oneOf` branch each), its gates and their
ranges, layers, units, targets and what counts as text. Only the word-token limit of word models cannot be
said in a schema: it depends on how the text splits into words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from fastapi import FastAPI

from app.config import Settings
from app.nn import Model, Zoo
from app.nn.tokenizer import MAX_NUMBER, Tokenizer

NUMBER_RE = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"  # app/nn/tokenizer.py's NUMBER, unanchored

TRACE, CONTINUE, INTERVENTION = "TraceRequest", "ContinueRequest", "Intervention"
ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Serve FastAPI's schema with this server's limits written in; cached once the zoo is loaded."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)  # FastAPI's own, which it keeps in app.openapi_schema
            zoo: Zoo | None = getattr(app.state, "zoo", None)
            state_limits(schema, settings, zoo)
            if zoo is None:  # asked before start-up: right for the settings, but not kept
                app.openapi_schema = None
            return schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def state_limits(schema: dict[str, Any], settings: Settings, zoo: Zoo | None) -> None:
    components = schema["components"]["schemas"]
    trace, cont = components[TRACE]["properties"], components[CONTINUE]["properties"]
    for text in (trace["text"], cont["text"]):
        text["maxLength"] = settings.max_chars
        text["description"] = (
            f"at most {settings.max_chars:,} characters (LSTM_EXPLAINER_MAX_CHARS) and, for word models, "
            f"{settings.max_word_tokens:,} word tokens (LSTM_EXPLAINER_MAX_WORD_TOKENS, a 422 text_too_long)"
        )
    trace["interventions"]["maxItems"] = settings.max_interventions
    _errors_have_one_shape(schema)
    if zoo is None or not zoo.models:
        return
    models = sorted(zoo.models.values(), key=lambda m: m.id)
    ids = [m.id for m in models]
    for body in (trace, cont):
        body["model"]["enum"] = ids
        body["model"]["description"] = "a loaded model (GET /api/models); each model's own limits are below"
    for param in schema["paths"]["/api/models/{model_id}"]["get"]["parameters"]:
        param["schema"]["enum"] = ids
    _bound_interventions(components[INTERVENTION]["properties"], models)
    components[TRACE]["oneOf"] = [_trace_branch(m) for m in models]
    components[CONTINUE]["oneOf"] = [_continue_branch(m) for m in models]


def _errors_have_one_shape(schema: dict[str, Any]) -> None:
    """Every 4xx this app sends is {"detail": {"code", "message"}} (app/api/errors.py), FastAPI's default
    422 for a path parameter included."""
    for operations in schema["paths"].values():
        for op in operations.values():
            default = op.get("responses", {}).get("422")
            if default and default["description"] == "Validation Error":
                default.update(description="a parameter is not valid (code invalid_request)")
                default["content"]["application/json"]["schema"] = ERROR_REF
    for unused in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(unused, None)


def _bound_interventions(props: dict[str, Any], models: list[Model]) -> None:
    """What some loaded model could take (the schema is shared by requests and trace documents)."""
    gated = [m for m in models if m.spec.gates]
    if not gated:
        return
    props["gate"]["enum"] = sorted({g for m in gated for g in m.spec.gates})
    ranges = [m.spec.gate_range(g) for m in gated for g in m.spec.gates]
    props["value"].update(minimum=min(lo for lo, _ in ranges), maximum=max(hi for _, hi in ranges))
    props["layer"]["maximum"] = max(m.layers for m in gated) - 1
    props["units"]["anyOf"][0]["items"]["maximum"] = max(m.hidden_size for m in gated) - 1


def _describe(model: Model) -> str:
    return (f"{model.id}: {model.arch}, {model.layers} layer(s) of {model.hidden_size} units, "
            f"{model.tokenizer.kind} tokens")  # fmt: skip


def _trace_branch(model: Model) -> dict[str, Any]:
    props = {"model": {"const": model.id}, **_text(model), "target": _target(model)}
    no_gates = {"maxItems": 0, "description": f"a plain {model.arch.upper()} has no gates to clamp"}
    props["interventions"] = {"items": _intervention(model)} if model.spec.gates else no_gates
    return {"title": model.id, "description": _describe(model), "properties": props}


def _continue_branch(model: Model) -> dict[str, Any]:
    return {
        "title": model.id,
        "description": _describe(model),
        "properties": {"model": {"const": model.id}, **_text(model)},
    }


def _intervention(model: Model) -> dict[str, Any]:
    """This model's gates, each with its range, its layers and units."""
    by_range: dict[tuple[float, float], list[str]] = {}
    for gate in model.spec.gates:
        by_range.setdefault(model.spec.gate_range(gate), []).append(gate)
    unit = {"type": "integer", "maximum": model.hidden_size - 1}
    return {
        # `items` applies to a list only, so null (every unit) still passes
        "properties": {"layer": {"type": "integer", "maximum": model.layers - 1}, "units": {"items": unit}},
        "anyOf": [
            {
                "properties": {
                    "gate": {"type": "string", "enum": gates},
                    "value": {"type": "number", "minimum": lo, "maximum": hi},
                }
            }
            for (lo, hi), gates in by_range.items()
        ],
    }


def _text(model: Model) -> dict[str, Any]:
    """A word model finds no token in whitespace alone (empty_text). Every character is a char model's token,
    an unknown one too, unless the model has no unknown token (unknown_token): then only its vocabulary."""
    tok = model.tokenizer
    if tok.kind == "numbers":
        sep = f"[{_ranges(whitespace())},;]"
        numbers = (f"numbers separated by commas, semicolons or whitespace (each at most {MAX_NUMBER:g} in size): "
                   "a forecaster reads a series")  # fmt: skip
        return {"text": {"pattern": f"^{sep}*{NUMBER_RE}(?:{sep}+{NUMBER_RE})*{sep}*$", "description": numbers}}
    if tok.kind == "word":
        words = "not whitespace alone: a word model needs at least one word"
        return {"text": {"pattern": f"[^{_ranges(whitespace())}]", "description": words}}
    if tok.unk is None:
        chars = "only characters of the vocabulary: this model has no unknown token"
        return {"text": {"pattern": f"^[{_ranges(_chars(tok))}]*$", "description": chars}}
    return {}


def _target(model: Model) -> dict[str, Any]:
    """The strings the tokenizer reads as one known token, '' (no target) or null: a character of the
    vocabulary, or a word with any whitespace around it; either in any case when the model lowercases. A
    classifier's target is one of its labels, a forecaster's one number (the value after the series)."""
    tok = model.tokenizer
    space = f"[{_ranges(whitespace())}]*"
    if model.kind == "classifier":
        said = "one of this classifier's labels, whitespace around it allowed; '' or null for none"
        labels = "|".join(re.escape(c) for c in model.classes)
        pattern = f"^(?:{space}(?:{labels}){space}|{space})$"
        return {"anyOf": [{"type": "string", "pattern": pattern}, {"type": "null"}], "description": said}
    if model.kind == "forecaster":
        said = "one number, the value after the series, whitespace around it allowed; '' or null for none"
        pattern = f"^(?:{space}{NUMBER_RE}{space}|{space})$"
        return {"anyOf": [{"type": "string", "pattern": pattern}, {"type": "null"}], "description": said}
    if tok.kind == "char":
        said = "a character of the vocabulary (GET /api/models/{model_id}); '' or null for none"
        return {"anyOf": [{"type": "string", "enum": ["", *_chars(tok)]}, {"type": "null"}], "description": said}
    space = f"[{_ranges(whitespace())}]*"
    words = sorted(("".join(_in_any_case(c, tok.lowercase) for c in t) for t in _tokens(tok)), key=len, reverse=True)
    said = (f"a word of the vocabulary (GET /api/models/{{model_id}}){', in any case' if tok.lowercase else ''}, "
            "whitespace around it allowed; '' or null for none")  # fmt: skip
    pattern = f"^(?:{space}(?:{'|'.join(words)}){space})?$"
    return {"anyOf": [{"type": "string", "pattern": pattern}, {"type": "null"}], "description": said}


def _tokens(tok: Tokenizer) -> list[str]:
    """The vocabulary entries a text can produce: not the unknown token, nor one the tokenizer would split
    (a word with a space in it) or lowercase."""
    return [t for t in tok.vocab if t != tok.unk and tok.split(t) == [t]]


def _chars(tok: Tokenizer) -> list[str]:
    """Every character a char model reads as a known token, in either case when it lowercases."""
    return sorted({v for t in _tokens(tok) for v in _cased(t, tok.lowercase)})


def _cased(char: str, lowercase: bool) -> list[str]:
    return [char, *(uppercase_of().get(char, []) if lowercase else [])]


def _in_any_case(char: str, lowercase: bool) -> str:
    variants = _cased(char, lowercase)
    return f"[{_ranges(variants)}]" if len(variants) > 1 else _escape(char)


# No character past U+1FFFF is whitespace or has a lower case (tests/test_openapi.py scans them all).
SCANNED = 0x20000


@cache
def whitespace() -> list[str]:
    """What Python's `\\s` matches, which the tokenizer splits on; JSON Schema's `\\s` is ECMAScript's, a
    slightly different set, so patterns spell it out."""
    return [c for c in map(chr, range(SCANNED)) if c.isspace()]


@cache
def uppercase_of() -> dict[str, list[str]]:
    """Each character's other-case forms: the characters whose lower() it is."""
    out: dict[str, list[str]] = {}
    for c in map(chr, range(SCANNED)):
        low = c.lower()
        if low != c and len(low) == 1:
            out.setdefault(low, []).append(c)
    return out


_SYNTAX = set("\\^$.*+?()[]{}|/")


def _escape(char: str, syntax: Iterable[str] = _SYNTAX) -> str:
    """One character as ECMAScript and Python regexes both read it."""
    if char in syntax:
        return "\\" + char
    if char.isprintable() and ord(char) < 0x7F:
        return char
    return f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else char


def _ranges(chars: Iterable[str]) -> str:
    """The inside of a character class holding `chars`, runs written as ranges."""
    codes = sorted({ord(c) for c in chars})
    parts, k = [], 0
    while k < len(codes):
        j = k
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        lo, hi = (_escape(chr(codes[i]), "\\]^-[") for i in (k, j))
        parts.append(lo if j == k else f"{lo}{'' if j == k + 1 else '-'}{hi}")
        k = j + 1
    return "".join(parts)
