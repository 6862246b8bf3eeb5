"""Scenes: the slides' examples as short guided sequences of explorer states, one JSON file per scene.

A scene file (``app/scenes/<name>.json``, or in a directory of ``LSTM_EXPLAINER_SCENES``)::

    {"name": "long-context", "title": "...", "summary": "one line", "kind": "explorer" | "lab",
     "states": [{"caption": "...", "state": {"model": "lecture-lstm", "text": "...", ...},
                 "expect": {"model": "lecture-lstm", "top": "spanish"}}]}

Files are validated here (shape and types; every error names the file and the field); model ids are
checked only when the scenes are served, against the models the server actually has. The optional
``expect`` claims are checked on the real models by :func:`check_expectation` (tests/test_scenes.py runs
it on every shipped scene), so a caption never promises what the network does not do.
docs/scenes.md is the lecturer's manual for the format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.nn.cells import GATE_NAMES as GATES
from app.nn.files import MAX_LAYERS, MAX_SIZE, MAX_STEPS, parse_json

SHIPPED_SCENES = Path(__file__).resolve().parent  # the scene files sit beside this module
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
PANELS = ("predictions", "clamps", "memory", "gradients", "unrolled", "continuation", "pair")

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Clamp(BaseModel):
    """The API's intervention: clamp `gate` to `value` on `units` (null: all) over steps [start, stop)."""

    model_config = _STRICT
    gate: Literal[GATES]  # type: ignore[valid-type]
    value: float
    layer: int = Field(0, ge=0, le=MAX_LAYERS - 1)
    units: list[Annotated[int, Field(ge=0, le=MAX_SIZE - 1)]] | None = None
    start: int | None = Field(None, ge=0, le=MAX_STEPS)
    stop: int | None = Field(None, ge=0, le=MAX_STEPS)


class ExplorerView(BaseModel):
    """The explorer's state fields a scene may set (static/js/state.js); a field left out goes back to
    its default when the page is shown, so one page's clamps never leak into the next."""

    model_config = _STRICT
    model: str | None = Field(None, min_length=1, max_length=200)
    text: str | None = Field(None, max_length=20000)
    target: str | None = Field(None, max_length=200)
    step: int | None = Field(None, ge=-1, le=MAX_STEPS, description="token index; -1 follows the last token")
    layer: int | None = Field(None, ge=0, le=MAX_LAYERS - 1)
    units: list[Annotated[int, Field(ge=0, le=MAX_SIZE - 1)]] | None = None
    clamps: list[Clamp] | None = None
    panels: list[Literal[PANELS]] | None = None  # type: ignore[valid-type]
    heat: str | None = Field(None, max_length=40)
    tint: bool | None = None
    compare: str | None = Field(None, max_length=200, description="second model id; '' = compare mode off")
    length: int | None = Field(None, ge=0, le=400, description="tokens the Continuation panel writes; 0 = default")
    sample: str | None = Field(
        None, pattern=r"^$|^\d+(?:\.\d+)?:\d+:\d+$", description="'' greedy, or temperature:top_k:seed"
    )
    pair: str | None = Field(None, max_length=20000, description="a minimal pair's second sentence; '' = none")
    pairunit: int | None = Field(None, ge=-1, le=MAX_SIZE - 1, description="the unit its chart shows; -1 = the best")


class LabView(BaseModel):
    """The vanishing/exploding-gradient lab: |∂h_T/∂h_{T−k}| = (W_rec · slope)^k, optionally clipped."""

    model_config = _STRICT
    w: float | None = Field(None, ge=0, le=2, description="the recurrent weight W_rec")
    slope: float | None = Field(None, ge=0.05, le=1, description="the nonlinearity's slope (tanh' ≤ 1)")
    steps: int | None = Field(None, ge=1, le=200, description="how many steps back")
    clip: bool | None = None
    threshold: float | None = Field(None, gt=0, le=1e6, description="the clipping threshold")


class Expectation(BaseModel):
    """A claim about the real model, checked by the tests: the top prediction after the last token, and
    how much of the gradient survives back to a token (`kept`: ‖∂L/∂memory_k‖ / ‖∂L/∂memory_last‖, memory
    being the LSTM's cell state, the RNN's hidden state), or how open a unit's forget gate stays. For a
    classifier `top` and `not_top` name labels (its verdict after the last word); for a forecaster
    `forecast_between` bounds its forecast after the last value."""

    model_config = _STRICT
    model: str | None = Field(None, description="default: the state's model")
    top: str | None = None
    not_top: str | None = None
    p_above: float | None = Field(None, ge=0, le=1, description="with top: its probability is above this")
    p_below: float | None = Field(None, ge=0, le=1, description="with not_top: its probability is below this")
    kept_from: str | Annotated[int, Field(ge=-MAX_STEPS, le=MAX_STEPS)] | None = Field(
        None, description="a token (its first occurrence) or an index"
    )
    kept_above: float | None = Field(None, ge=0)
    kept_below: float | None = Field(None, ge=0)
    forget_unit: int | None = Field(None, ge=0, le=MAX_SIZE - 1, description="this unit's forget gate stays open ...")
    forget_from: str | Annotated[int, Field(ge=-MAX_STEPS, le=MAX_STEPS)] | None = Field(
        None, description="... from this token to the end ..."
    )
    forget_above: float | None = Field(None, ge=0, le=1, description="... above this value")
    forecast_between: tuple[float, float] | None = Field(
        None, description="a forecaster: its forecast after the last value lies in [low, high]"
    )
    sentence: Literal["text", "pair"] = Field(
        "text", description="top / not_top are about the state's text, or its minimal pair's second sentence"
    )
    pair_unit: int | None = Field(
        None, ge=0, le=MAX_SIZE - 1, description="the unit the minimal-pair view picks (differs most after the cue) ..."
    )
    pair_from: str | Annotated[int, Field(ge=-MAX_STEPS, le=MAX_STEPS)] | None = Field(
        None, description="... whose memory differs between the two sentences from this token (of the text) on ..."
    )
    pair_above: float | None = Field(None, ge=0, description="... by more than this at every step")

    @model_validator(mode="after")
    def _says_something(self) -> Expectation:
        said = (self.top, self.not_top, self.kept_from, self.forget_unit, self.forecast_between, self.pair_unit)
        if all(x is None for x in said):
            raise ValueError("an expectation needs top, not_top, kept_from, forget_unit, forecast_between or pair_unit")
        if self.pair_unit is not None and (self.pair_from is None or self.pair_above is None):
            raise ValueError("pair_unit needs pair_from and pair_above")
        if self.kept_from is not None and self.kept_above is None and self.kept_below is None:
            raise ValueError("kept_from needs kept_above or kept_below")
        if self.forget_unit is not None and self.forget_above is None:
            raise ValueError("forget_unit needs forget_above")
        return self


class SceneState(BaseModel):
    model_config = _STRICT
    caption: str = Field(min_length=1, max_length=600)
    state: dict[str, Any] = Field(default_factory=dict)
    expect: Expectation | list[Expectation] | None = None

    def expectations(self) -> list[Expectation]:
        if self.expect is None:
            return []
        return self.expect if isinstance(self.expect, list) else [self.expect]


class Scene(BaseModel):
    model_config = _STRICT
    name: str = Field(pattern=NAME_PATTERN)
    title: str = Field(min_length=1, max_length=120)
    summary: str = Field("", max_length=300)
    kind: Literal["explorer", "lab"] = "explorer"
    order: int = Field(100, ge=-(10**6), le=10**6, description="the gallery shows scenes by this number, then by name")
    states: list[SceneState] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _check_states(self) -> Scene:
        view = LabView if self.kind == "lab" else ExplorerView
        for i, s in enumerate(self.states):
            try:
                s.state = view.model_validate(s.state).model_dump(exclude_unset=True, mode="json")
            except ValidationError as exc:
                raise ValueError(_describe(exc, f"states.{i}.state")) from None
        return self

    def models(self) -> set[str]:
        """Every model id the scene names (in its states and its expectations)."""
        ids = set()
        for s in self.states:
            ids.update(v for k in ("model", "compare") if (v := s.state.get(k)))
            ids.update(e.model for e in s.expectations() if e.model)
        return ids

    def summary_row(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "summary": self.summary, "kind": self.kind,
                "count": len(self.states)}  # fmt: skip


class SceneError(ValueError):
    """A scene file that cannot be used; the message names the file and the field."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class SceneLibrary(dict[str, Scene]):
    """The scenes by name, in load order, plus the files that were refused (`failed`: name, path, error)."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: list[dict[str, str]] = []


def _describe(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err.get("loc", ())) if p != "")
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def load_scene_file(path: Path) -> Scene:
    """One scene file, validated; raises SceneError naming the file and the field."""
    try:
        raw = parse_json(path.read_bytes())
    except OSError as exc:
        raise SceneError(path, f"cannot read it: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:  # not JSON, or JSON that would break a page later
        raise SceneError(path, str(exc)) from None
    if not isinstance(raw, dict):
        raise SceneError(path, "the file must hold one JSON object with name, title, kind and states")
    raw.setdefault("name", path.stem)
    if raw["name"] != path.stem:
        raise SceneError(path, f"name: {raw['name']!r} must match the file name {path.stem!r}")
    try:
        return Scene.model_validate(raw)
    except ValidationError as exc:
        raise SceneError(path, _describe(exc)) from None


def scene_dirs(extra: Iterable[Path] = (), shipped: bool = True) -> list[Path]:
    return ([SHIPPED_SCENES] if shipped else []) + [Path(d) for d in extra]


def load_scenes(dirs: Iterable[Path] | None = None) -> SceneLibrary:
    """Every scene in `dirs` (default: the shipped ones and the settings' `scene_dirs`); a later
    directory's scene replaces an earlier one of the same name. Bad files are kept in `.failed`."""
    if dirs is None:
        from app.config import get_settings

        dirs = scene_dirs(get_settings().scene_dirs)
    library = SceneLibrary()
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            library.failed.append({"name": "", "path": str(d), "error": "not a directory"})
            continue
        for path in sorted(d.glob("*.json")):
            try:
                scene = load_scene_file(path)
            except SceneError as exc:
                library.failed.append({"name": path.stem, "path": str(path), "error": exc.message})
                library.pop(path.stem, None)
                continue
            library[scene.name] = scene
    ordered = sorted(library.values(), key=lambda sc: (sc.order, sc.name))
    library.clear()
    library.update((sc.name, sc) for sc in ordered)
    return library


def find_scene(library: SceneLibrary, name: str) -> Scene:
    """The scene called `name`: KeyError when there is none, SceneError when its file is not valid."""
    if name in library:
        return library[name]
    for failure in library.failed:
        if failure["name"] == name:
            raise SceneError(Path(failure["path"]), failure["error"])
    raise KeyError(name)


def get_scene(name: str, dirs: Iterable[Path] | None = None) -> dict[str, Any]:
    """One scene as `GET /api/scenes/{name}` serves it, less the server's `problems` (the exporter's)."""
    return find_scene(load_scenes(dirs), name).model_dump(mode="json", exclude_none=True)


def model_problems(scene: Scene, known: Iterable[str]) -> list[str]:
    """The scene's model ids this server does not have, said in words."""
    have = set(known)
    return [f"this server has no model {m!r}" for m in sorted(scene.models() - have)]


# ------------------------------------------------------------------------------------------ expectations
def _token_index(texts: list[str], where: str | int) -> int:
    if isinstance(where, int):
        return where if where >= 0 else len(texts) + where
    want = where.lower()
    for i, t in enumerate(texts):
        if t.lower() == want:
            return i
    raise ValueError(f"token {where!r} is not in the text ({' '.join(texts)})")


def check_expectation(state: dict[str, Any], expect: Expectation, load: Callable[[str], Any]) -> str | None:
    """Run the state's text (target, and clamps on the state's own model) through the real model and
    return None if the claim holds, else what the model did instead. `load(model_id)` gives a Model."""
    import numpy as np

    from app.nn import run_trace

    model_id = expect.model or state.get("model")
    if not model_id:
        return "the expectation names no model and the state has none"
    model = load(model_id)
    clamps = state.get("clamps") if model_id == state.get("model") else None
    need_grad = expect.kept_from is not None
    if (expect.sentence == "pair" or expect.pair_unit is not None) and not state.get("pair"):
        return "the expectation is about the minimal pair, and the state has no `pair` sentence"
    text = state["pair"] if expect.sentence == "pair" else state["text"]
    trace = run_trace(model, text, target=state.get("target") or None, interventions=clamps,
                      gradients=need_grad)  # fmt: skip
    texts = [t.text for t in trace.tokens]
    unknown = [t.text for t in trace.tokens if t.unknown]
    if unknown:
        return f"{model_id}: words outside the vocabulary: {unknown}"
    if expect.forecast_between is not None:
        if model.kind != "forecaster":
            return f"{model_id} is not a forecaster"
        mean, scale = model.normalisation
        value = mean + scale * float(trace.logits[-1, 0])
        low, high = expect.forecast_between
        if not low <= value <= high:
            return f"{model_id} forecasts {value:.2f}, not between {low} and {high}"
    p = trace.probs[-1]
    vocab = model.classes if model.kind == "classifier" else list(model.vocab)
    for word in (expect.top, expect.not_top):
        if word is not None and word not in vocab:
            return f"{model_id} has no token {word!r} in its vocabulary"
    best = vocab[int(p.argmax())]
    said = f"{model_id} says {best!r} (p={p.max():.2f})"
    if expect.top is not None:
        if best != expect.top:
            return f"{said}, not {expect.top!r} (p={p[vocab.index(expect.top)]:.2f})"
        if expect.p_above is not None and p.max() <= expect.p_above:
            return f"{said}, not above {expect.p_above}"
    if expect.not_top is not None:
        p_not = float(p[vocab.index(expect.not_top)])
        if best == expect.not_top:
            return f"{said}: the claim was that it would not"
        if expect.p_below is not None and p_not >= expect.p_below:
            return f"{model_id}: p({expect.not_top!r}) = {p_not:.2f}, not below {expect.p_below}"
    if expect.kept_from is not None:
        tri = trace.triangle
        if tri is None:
            return f"{model_id}: no gradients"
        memory = tri.cell if tri.cell is not None else tri.hidden
        layer = state.get("layer", 0)
        last = int(tri.loss_steps[-1])  # the last step whose loss is defined
        k = _token_index(texts, expect.kept_from)
        row = memory[layer, -1]  # (T,) ‖∂L_last/∂memory_k‖
        kept = float(row[k] / row[last])
        if expect.kept_above is not None and not kept > expect.kept_above:
            return f"{model_id}: kept {kept:.3g} of the gradient back to step {k}, not above {expect.kept_above}"
        if expect.kept_below is not None and not kept < expect.kept_below:
            return f"{model_id}: kept {kept:.3g} of the gradient back to step {k}, not below {expect.kept_below}"
    if expect.pair_unit is not None and (problem := _pair_claim(model, state, clamps, expect)):
        return f"{model_id}: {problem}"
    if expect.forget_unit is not None:
        k = _token_index(texts, expect.forget_from if expect.forget_from is not None else 0)
        layer = state.get("layer", 0)
        f = np.array([c["act"]["forget"][0, expect.forget_unit] for c in trace.tape.caches[layer][k:]])
        if not f.min() > (expect.forget_above or 0):
            return f"{model_id}: unit {expect.forget_unit}'s forget gate falls to {f.min():.3f} after step {k}"
    return None


def _pair_claim(model: Any, state: dict[str, Any], clamps: Any, expect: Expectation) -> str | None:
    """The minimal-pair claim, as static/js/features/pair.js computes it for two sentences of one length:
    the unit whose memory differs most from the first differing token on, and its difference from
    `pair_from` to the end."""
    import numpy as np

    from app.nn import run_trace

    layer = state.get("layer", 0)
    traces = [run_trace(model, t, target=state.get("target") or None, interventions=clamps, gradients=False)
              for t in (state["text"], state["pair"])]  # fmt: skip
    texts = [[t.text for t in tr.tokens] for tr in traces]
    if len(texts[0]) != len(texts[1]):
        return f"the pair claim needs sentences of one length, not {len(texts[0])} and {len(texts[1])} tokens"
    differs = [i for i, (a, b) in enumerate(zip(*texts, strict=True)) if a != b]
    if not differs:
        return "the two sentences read as the same tokens"
    col = [tr.columns[layer] for tr in traces]
    T = len(texts[0])  # the columns may run on through a target's later pieces
    memory = [(c.c if c.c is not None else c.h)[:T] for c in col]  # (T, H): the cell state, or the hidden state
    gap = np.abs(memory[0] - memory[1])  # (T, H)
    best = int(gap[differs[0] :].max(axis=0).argmax())
    if best != expect.pair_unit:
        return f"the unit that differs most after {texts[0][differs[0]]!r} is {best}, not {expect.pair_unit}"
    k = _token_index(texts[0], expect.pair_from)  # type: ignore[arg-type]
    low = float(gap[k:, best].min())
    if not low > (expect.pair_above or 0):
        return f"unit {best}'s memory differs by only {low:.3f} between the sentences somewhere after step {k}"
    return None
