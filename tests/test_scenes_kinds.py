"""The scenes of issue 14 claim what the shipped classifiers and forecaster do: every page's claim holds
(tests/test_scenes.py checks them all), and the claims a caption makes beyond the last word are checked here:
the clamp at "not" is what flips the verdict, the reading turns where the caption says, the forecast follows
the cycle."""

from __future__ import annotations

import numpy as np

from app.nn import load_model, run_trace, shipped_models_dir
from app.scenes import SHIPPED_SCENES, Expectation, check_expectation, load_scenes

SCENES = load_scenes([SHIPPED_SCENES])
MODELS = shipped_models_dir()


def model(model_id: str):  # type: ignore[no-untyped-def]
    return load_model(MODELS / model_id)


def readings(model_id: str, text: str) -> list[str]:
    m = model(model_id)
    trace = run_trace(m, text, gradients=False)
    return [m.classes[int(p.argmax())] for p in trace.probs]


def test_the_input_gate_clamp_at_not_is_what_flips_the_verdict() -> None:
    page = next(s for s in SCENES["not-flips-sentiment"].states if s.state.get("clamps"))
    clamp = page.state["clamps"][0]
    words = [t.text for t in model("sentiment-lstm").tokenizer.tokenize(page.state["text"])]
    assert clamp["gate"] == "input" and words[clamp["start"]] == "not" and clamp["stop"] == clamp["start"] + 1
    unclamped = {k: v for k, v in page.state.items() if k != "clamps"}
    assert check_expectation(unclamped, Expectation(model="sentiment-lstm", top="negative"), model) is None
    assert check_expectation(page.state, Expectation(model="sentiment-lstm", top="positive"), model) is None


def test_the_readings_turn_where_the_captions_say() -> None:
    assert readings("sentiment-lstm", "The film was good")[-1] == "positive"
    assert readings("sentiment-lstm", "The film was not good")[-1] == "negative"  # "not" held until "good"
    contrast = next(s for s in SCENES["not-flips-sentiment"].states if "but" in s.state["text"]).state["text"]
    words = [t.text for t in model("sentiment-lstm").tokenizer.tokenize(contrast)]
    said = readings("sentiment-lstm", contrast)
    assert said[words.index("great")] == "positive" and said[-1] == "negative"
    topic = SCENES["which-topic"].states[0].state["text"]
    words = [t.text for t in model("intent-lstm").tokenizer.tokenize(topic)]
    said = readings("intent-lstm", topic)
    assert set(said[words.index("goalkeeper") :]) == {"sport"}
    # the RNN guesses other topics on the way, as the third page says
    rnn = readings("intent-rnn", SCENES["which-topic"].states[2].state["text"])
    assert {"music", "food"} <= set(rnn) and rnn[-1] == "weather"


def test_the_forecast_follows_the_cycle() -> None:
    page = SCENES["forecast"].states[0].state
    m = model("series-lstm")
    trace = run_trace(m, page["text"], gradients=False)
    forecasts = 50 + 30 * trace.logits[:, 0]
    values = np.array([t.value for t in trace.tokens])
    # one step ahead, the forecasts are closer to the next value than the last value is (persistence)
    assert np.mean((forecasts[:-1] - values[1:]) ** 2) < np.mean((values[:-1] - values[1:]) ** 2)
