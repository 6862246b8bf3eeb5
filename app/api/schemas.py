"""Request and response models: validation for what comes in, documentation (OpenAPI at /docs) for what
goes out. The trace document itself is built by `app.nn` and only described here."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from app.config import MAX_TEXT
from app.nn.files import MAX_LAYERS, MAX_SIZE, MAX_STEPS
from app.nn.generate import MAX_CONTINUATION, MAX_SEED, MAX_TEMPERATURE

# Strict: JSON `true` is not the integer 1 and "0.5" is not a number; unknown fields are a mistake.
_STRICT = ConfigDict(extra="forbid", strict=True)


def _encodable(value: str) -> str:
    # JSON may spell a lone UTF-16 surrogate ("\ud800"); no response could carry it back as UTF-8.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains an unpaired surrogate (\\ud800-\\udfff), which is not text") from None
    return value


Text = Annotated[str, AfterValidator(_encodable)]


def _whole(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer, so a client following the schema may send it; 3.5 stays refused.
    return int(value) if type(value) is float and value.is_integer() else value


# Every integer is bounded: a client's 2**64 is a 422 that names the limit, never an overflow further in.
MAX_MESSAGE_ID = 2**53 - 1  # the largest integer JavaScript holds exactly


def bounded_int(low: int, high: int) -> Any:
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_whole)]  # bounds first: they reach the schema


def bounded_text(min_length: int, max_length: int | None = None) -> Any:
    # The length first, then the encoding check, so a too-long text is described as a string, not a list.
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(_encodable)]


Layer = bounded_int(0, MAX_LAYERS - 1)
Unit = bounded_int(0, MAX_SIZE - 1)
Step = bounded_int(0, MAX_STEPS)


class Intervention(BaseModel):
    """Clamp a gate to a constant on some units over the steps [start, stop). Gate names and ranges are
    checked against the model (`bad_intervention` when they do not fit). A range that covers no step of the
    text (stop not after start, or a start past the last step) clamps nothing and says so in `notices`."""

    model_config = ConfigDict(**_STRICT, json_schema_extra={"examples": [{"gate": "forget", "value": 1.0}]})

    gate: Text = Field(description="input, forget, candidate or output (LSTM); update, reset or candidate (GRU)")
    value: float = Field(allow_inf_nan=False, description="[0, 1] for sigmoid gates, [-1, 1] for candidate")
    layer: Layer = 0
    units: Annotated[list[Unit], Field(min_length=1)] | None = Field(
        None, description="unit indices (at least one); null clamps every unit"
    )
    start: Step | None = Field(None, description="first clamped step; null = from the start")
    stop: Step | None = Field(None, description="first step no longer clamped; null = to the end")


class TraceRequest(BaseModel):
    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra={"examples": [{"model": "lecture-lstm", "text": "The keys to the cabinet are"}]},
    )

    model: bounded_text(1, 200)  # type: ignore[valid-type]
    text: bounded_text(1, MAX_TEXT) = Field(  # type: ignore[valid-type]
        description="limited by LSTM_EXPLAINER_MAX_CHARS and, for word models, _MAX_WORD_TOKENS"
    )
    target: bounded_text(0, 200) | None = Field(None, description="a token scored after the last step; '' = none")  # type: ignore[valid-type]
    interventions: list[Intervention] = Field(default_factory=list)
    gradients: bool = Field(True, description="include ‖∂L_t/∂h_k‖ and the weight gradients")


MessageId = bounded_text(0, 128) | bounded_int(-MAX_MESSAGE_ID, MAX_MESSAGE_ID)
Steps = Literal["all"] | Annotated[list[Step], Field(max_length=4096)]


class View(BaseModel):
    """What the client looks at (docs/protocol.md): gradient rows and pre-activations it wants first."""

    model_config = ConfigDict(**_STRICT)

    rows: Steps = Field("all", description="loss steps t whose gradient rows are wanted; [] for none yet")
    pre: Steps = Field("all", description="steps whose pre-activations are wanted")


class TraceMessage(TraceRequest):
    """The WebSocket's trace request: a trace request with a type, a client-chosen id, and optionally the
    earlier trace the client keeps (incremental) and what it looks at."""

    model_config = ConfigDict(**_STRICT)

    type: Literal["trace"]
    # A page sends what is in its text box, empty included, and shows the core's empty_text error.
    text: bounded_text(0, MAX_TEXT)  # type: ignore[valid-type]
    id: MessageId  # type: ignore[valid-type]
    base: MessageId | None = Field(None, description="an earlier trace of this socket the client keeps")
    view: View = Field(default_factory=View)


class ViewMessage(View):
    """More of the current trace: rows and pre-activations the client now looks at."""

    type: Literal["view"]
    id: MessageId


class ErrorDetail(BaseModel):
    code: str = Field(
        description="a stable slug: bad_body (400); unknown_model, unknown_scene, http_404 (404); body_too_large "
        "(413); invalid_request (the schema's rules), text_too_long, empty_text, unknown_token, bad_target, "
        "bad_intervention, too_many_interventions, bad_length, invalid_scene (422)"
    )
    message: str = Field(description="what was wrong and what to change")


class ErrorResponse(BaseModel):
    detail: ErrorDetail


class LoadFailure(BaseModel):
    path: str
    error: str


class ModelCard(BaseModel):
    """A model's card (its model.json, without the vocabulary) plus what the UI derives from it."""

    model_config = ConfigDict(extra="allow")  # cards may carry more (provenance, example sentences, ...)

    id: str
    title: str
    arch: str
    layers: int
    input_size: int
    hidden_size: int
    tokenizer: Literal["char", "word", "numbers"]
    vocab_size: int
    task: str
    description: str
    metrics: dict[str, Any] = Field(default_factory=dict)
    gates: dict[str, Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(
        description="clampable gates and the range [low, high] of each"
    )


class ModelDetail(ModelCard):
    vocab: list[str] = Field(description="every token the model knows, in id order")


class ModelList(BaseModel):
    models: list[ModelCard]
    default: str | None = Field(description="the model the page opens with")
    failed: list[LoadFailure] = Field(description="model directories that could not be loaded")


class Health(BaseModel):
    status: Literal["ok", "no_models"]
    version: str
    models: int
    failed: list[LoadFailure]


# -- the trace document (built by app.nn.document; floats rounded to 7 significant digits) ----------------


class Normalisation(BaseModel):
    mean: float
    scale: float


class TraceModel(BaseModel):
    id: str
    arch: str
    layers: int
    input_size: int
    hidden_size: int
    tokenizer: Literal["char", "word", "numbers"]
    # a language model's record has none of these (app/nn/document.py model_record)
    task_kind: Literal["classifier", "forecaster"] | None = Field(None, description="absent for a language model")
    classes: list[str] | None = Field(None, description="a classifier's labels, in id order")
    normalisation: Normalisation | None = Field(None, description="a forecaster's: it reads (value − mean) / scale")


class TraceToken(BaseModel):
    text: str
    id: int
    unknown: bool
    join: bool = Field(False, description="a word piece that continues the previous token's word (no space before)")
    value: float | None = Field(None, description="a forecaster's number")


class TraceTarget(BaseModel):
    text: str
    id: int
    value: float | None = Field(None, description="a forecaster's target: the value after the series")


class LayerStep(BaseModel):
    gates: dict[str, list[float]]
    preactivations: dict[str, list[float]]
    cell: list[float] | None
    tanh_cell: list[float] | None
    hidden: list[float]
    clamped: dict[str, list[int]]


class TopToken(BaseModel):
    token: str
    p: float


class ExpectedToken(BaseModel):
    token: str
    id: int
    p: float


class ClassReading(BaseModel):
    label: str
    p: float


class Forecast(BaseModel):
    value: float = Field(description="the forecast of the next value, in the series' own units")
    expected: float | None = Field(description="the actual next value, or the target at the last step")


class TraceStep(BaseModel):
    layers: list[LayerStep]
    top: list[TopToken] | None = Field(None, description="a language model's 10 likeliest next tokens")
    expected: ExpectedToken | None = Field(
        None, description="a language model's actual next token, or the target at the last step"
    )
    classes: list[ClassReading] | None = Field(
        None, description="a classifier's reading after this step, likeliest first"
    )
    forecast: Forecast | None = Field(None, description="a forecaster's forecast of the next value")
    loss: float | None = Field(description="-log p(expected); a forecaster's ½(forecast − next)² in normalised units")


class LayerGradients(BaseModel):
    hidden: list[list[float | None] | None] = Field(description="[t][k] = ‖∂L_t/∂h_k‖ for k ≤ t")
    cell: list[list[float | None] | None] | None


class ParamGradients(BaseModel):
    step: int = Field(description="the loss L_t whose weight gradients these are")
    layers: list[dict[str, dict[str, float]]] = Field(description="[layer][block] → weight_ih, weight_hh, bias")
    embedding: float | None = Field(description="None for a forecaster, which has no embedding")
    decoder: float
    attribution: list[float] | None = Field(None, description="gradient × input per token (the last loss's)")


class TraceGradients(BaseModel):
    layers: list[LayerGradients]
    params: ParamGradients | None


class TraceDocument(BaseModel):
    model: TraceModel
    tokens: list[TraceToken]
    target: TraceTarget | None
    steps: list[TraceStep]
    gradients: TraceGradients | None
    interventions: list[Intervention] = Field(description="as applied, normalised")
    notices: list[str] = Field(
        description="what was left out or had no effect, and why: gradients past the length limit, an intervention "
        "that clamps no step"
    )


# -- the WebSocket's server messages (docs/protocol.md; binary frames are described there) ---------------


class LayoutField(BaseModel):
    name: str = Field(description="a path into the document, e.g. layers.0.gates.forget")
    size: int | None = Field(None, description="numbers per record (gradient rows: t + 1, so absent)")


class FrameLayout(BaseModel):
    step: list[LayoutField] = Field(description="fields of a step record (binary kind 1), in order")
    pre: list[LayoutField] = Field(description="fields of a pre-activation record (kind 2)")
    row: list[LayoutField] = Field(description="fields of a gradient row (kind 3), t + 1 numbers each")


class MetaFrame(BaseModel):
    type: Literal["meta"]
    id: str | int
    stream: int = Field(description="this trace's number on the socket, carried by its binary frames")
    model: TraceModel
    tokens: list[TraceToken]
    target: TraceTarget | None
    interventions: list[Intervention]
    notices: list[str]
    gradients: bool = Field(description="whether gradient rows can come")
    base: str | int | None = Field(description="the trace this one extends, or null")
    keep: int = Field(description="steps 0 .. keep-1 are the base's")
    keep_rows: int = Field(description="gradient rows 0 .. keep_rows-1 are the base's (keep_rows <= keep)")
    layout: FrameLayout
    vocab: dict[str, str] = Field(description="token id -> text for the ids the top lists name")


class ParamsFrame(BaseModel):
    type: Literal["params"]
    id: str | int
    params: ParamGradients


class DoneFrame(BaseModel):
    type: Literal["done"]
    id: str | int
    ms: float = Field(description="since the request arrived")
    complete: bool = Field(description="the client now holds the whole document")


class ErrorFrame(BaseModel):
    type: Literal["error"]
    id: str | int | None
    code: str
    message: str


# -- POST /api/continue ----------------------------------------------------------------------------------


class ContinueRequest(BaseModel):
    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra={"examples": [{"model": "shakespeare-lstm", "text": "To be, or not to be", "length": 80}]},
    )

    model: bounded_text(1, 200)  # type: ignore[valid-type]
    text: bounded_text(1, MAX_TEXT) = Field(  # type: ignore[valid-type]
        description="limited like a trace's text (LSTM_EXPLAINER_MAX_CHARS, _MAX_WORD_TOKENS)"
    )
    length: bounded_int(1, MAX_CONTINUATION) | None = Field(  # type: ignore[valid-type]
        None, description="tokens to write; default 200 for character models, 20 for word models"
    )
    temperature: float = Field(
        0.0, ge=0.0, le=MAX_TEMPERATURE, description="0: greedy (always the likeliest token); above 0: sample"
    )
    top_k: int = Field(0, ge=0, description="when sampling, draw only from the k likeliest tokens; 0: all")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="when sampling, nucleus: the likeliest tokens up to p")
    seed: int | None = Field(
        None, ge=0, le=MAX_SEED, description="when sampling, fixes the draw; left out, the server picks one"
    )


class SamplingUsed(BaseModel):
    temperature: float
    top_k: int
    top_p: float
    seed: int | None = Field(description="null when greedy")


class ContinueResponse(BaseModel):
    model: str
    text: str = Field(description="the text as given")
    continuation: str = Field(description="what the model writes next; word tokens are joined by spaces")
    tokens: list[TraceToken] = Field(description="the continuation token by token")
    sampling: SamplingUsed = Field(description="how the tokens were chosen, with the seed to write them again")


# -- GET /api/scenes (the scene files themselves are validated by app.scenes) -----------------------------


class SceneSummary(BaseModel):
    name: str
    title: str
    summary: str
    kind: str
    count: int = Field(description="how many states (pages) the scene has")


class SceneDocument(BaseModel):
    name: str
    title: str
    summary: str
    kind: str
    order: int
    states: list[dict[str, Any]] = Field(description="each: caption, state (partial front-end state), expect")
    problems: list[str] = Field(default_factory=list, description="what this server cannot show, e.g. a model")
