"""The lecture slides' examples, on the models we ship: the gated models' top prediction is right where the
slides say it should be, and the plain RNN's failure at long range is real (measured, not staged) — on the
381-word grammar models the scenes use, and on the word-piece lecture models a student types into."""

from __future__ import annotations

import json

import pytest

from app.nn import load_model, run_trace, shipped_models_dir

MODELS = shipped_models_dir()


def top(model_id: str, text: str) -> tuple[str, dict[str, float]]:
    model = load_model(MODELS / model_id)
    trace = run_trace(model, text, gradients=False)
    assert not any(t.unknown for t in trace.tokens), [t.text for t in trace.tokens if t.unknown]
    p = trace.probs[-1]
    return model.vocab[int(p.argmax())], dict(zip(model.vocab, p.tolist(), strict=True))


SHORT = "the clouds are in the"
SPAIN = ("I have been staying in Spain for the last 10 years and I enjoyed the food there although the weather "
         "was often cold . I can speak fluent")  # fmt: skip
LONG = [
    (SPAIN, "spanish"),
    ("I grew up in France and we visited many old friends in the summer . so I speak fluent", "french"),
    ("The students who got into Engineering with very good grades from the old school ,", "were"),
    ("The person who took my bike near the old station in the summer ,", "was"),
    ("Amanda is a girl who likes to learn . yesterday", "she"),
    ("John is a boy who likes to learn . yesterday", "he"),
    ("John played tremendously well against the opponent and won for his team . for his contributions , brave "
     "John", "was"),
]  # fmt: skip


@pytest.mark.parametrize(
    "model_id", ["grammar-lstm", "grammar-gru", "grammar-rnn", "lecture-lstm", "lecture-gru", "lecture-rnn"]
)
def test_short_context_both_get_it(model_id: str) -> None:
    assert top(model_id, SHORT)[0] == "sky"


@pytest.mark.parametrize(("text", "answer"), LONG, ids=[a for _, a in LONG])
def test_long_context_the_lstm_keeps_it(text: str, answer: str) -> None:
    word, p = top("grammar-lstm", text)
    assert word == answer, f"LSTM said {word!r} (p={p[word]:.2f}); p({answer})={p[answer]:.2f}"


@pytest.mark.parametrize(("text", "answer"), [LONG[k] for k in (0, 1, 4, 5)], ids=["spanish", "french", "she", "he"])
def test_long_context_the_gru_keeps_the_country_and_the_name(text: str, answer: str) -> None:
    """The GRU's update gate holds a fact across the clause too (its weak spot is agreement: see its card)."""
    word, p = top("grammar-gru", text)
    assert word == answer and p[answer] > 0.5, f"GRU said {word!r}; p({answer})={p[answer]:.2f}"


def test_long_context_the_rnn_loses_it() -> None:
    """Across the language sentences the RNN is no better than a guess among the languages it knows."""
    for text, answer in LONG[:2]:
        word, p = top("grammar-rnn", text)
        assert word != answer and p[answer] < 0.2, f"RNN: {word!r}, p({answer})={p[answer]:.2f}"
    rnn_right = sum(top("grammar-rnn", text)[0] == answer for text, answer in LONG)
    assert rnn_right <= len(LONG) // 2


def test_clamping_the_forget_gate_shut_makes_the_lstm_lose_it_too() -> None:
    model = load_model(MODELS / "grammar-lstm")
    tokens = model.tokenizer.tokenize(SPAIN)
    spain = [t.text for t in tokens].index("spain")
    shut = [{"gate": "forget", "value": 0.0, "start": spain + 3, "stop": spain + 4}]
    trace = run_trace(model, SPAIN, target="spanish", interventions=shut, gradients=False)
    p = trace.probs[-1]
    assert model.vocab[int(p.argmax())] != "spanish"
    assert p[model.vocab.index("spanish")] < 0.2


def test_the_gradient_reaches_the_country_through_the_lstm_cell_but_vanishes_in_the_rnn() -> None:
    """The vanishing gradient, measured on the Spain sentence: the gradient of the last loss with respect to
    each model's memory (the cell state c for the LSTM, h for the RNN) at the country word, relative to the
    last step. The LSTM's cell keeps it (the constant error carousel); the RNN's shrinks by orders."""
    kept = {}
    for model_id in ("grammar-lstm", "grammar-rnn"):
        model = load_model(MODELS / model_id)
        trace = run_trace(model, SPAIN, target="spanish")
        tri = trace.triangle
        assert tri is not None
        memory = tri.cell if tri.cell is not None else tri.hidden
        spain = [t.text for t in trace.tokens].index("spain")
        row = memory[0, -1]
        kept[model_id] = row[spain + 1] / row[-1]
    assert kept["grammar-lstm"] > 0.5, kept
    assert kept["grammar-rnn"] < 0.01, kept


def test_the_shakespeare_lstm_keeps_the_gradient_of_a_line_that_the_rnn_loses() -> None:
    """The slides' demo line (Venus and Adonis, which none of the models trained on). Per character the twins
    predict it about equally well (mean loss measured 1.64 LSTM, 1.60 RNN, 1.54 GRU): a one-layer char model
    leans on the last few characters. What differs is memory: the gradient of the loss near the end with
    respect to the state 40 and 80 characters earlier, relative to the state at the loss."""
    line = (
        "By this, she hears the hounds are at a bay;\nWhereat she starts, like one that spies an adder\n"
        "Wreathed up in fatal folds just in his way,\nThe fear whereof doth make him shake and shudder;"
    )
    kept = {}
    for model_id in ("shakespeare-lstm", "shakespeare-rnn"):
        trace = run_trace(load_model(MODELS / model_id), line)
        tri = trace.triangle
        assert tri is not None
        memory = tri.cell if tri.cell is not None else tri.hidden
        last = memory.shape[-1] - 2  # the last step with a next character
        row = memory[0, last]
        kept[model_id] = (row[last - 40] / row[last], row[last - 80] / row[last])
    assert min(kept["shakespeare-lstm"]) > 1e-2, kept
    assert max(kept["shakespeare-rnn"]) < 1e-3, kept


@pytest.mark.parametrize(
    "model_id",
    ["recall-lstm", "recall-gru", "counting-lstm", "grammar-lstm", "grammar-gru", "lecture-lstm", "lecture-gru"],
)
def test_the_example_a_card_opens_with_is_answered(model_id: str) -> None:
    """The explorer opens each model on its card's example; the trained LSTM (and GRU) get its target."""
    model = load_model(MODELS / model_id)
    example, target = model.card["example"], model.card["example_target"]
    assert target
    p = run_trace(model, example, target=target, gradients=False).probs[-1]
    assert model.vocab[int(p.argmax())] == target
    assert p.max() > 0.9


def test_every_shipped_card_has_an_example() -> None:
    for path in sorted(MODELS.iterdir()):
        card = json.loads((path / "model.json").read_text())
        assert card["example"], path.name
        assert isinstance(card["example_target"], str), path.name


# ------------------------------------------------------------------- the word-piece lecture models
OWN_WORDS = [  # a lecturer's own phrasing of the slides' examples (cf. app/train/eval/lecture_heldout.tsv)
    ("I have been staying in Spain for the last 10 years and I enjoyed the food there although the weather "
     "was often cold. I can speak fluent", "spanish"),
    ("I grew up in France and we visited many old friends in the summer, so I speak fluent", "french"),
    ("Amanda is a girl who likes to learn. Yesterday", "she"),
    ("John is a boy who likes to learn. Yesterday", "he"),
    ("John played tremendously well against the opponent and won for his team. For his contributions, brave",
     "john"),
    ("John played tremendously well against the opponent and won for his team. For the contributions, brave",
     "john"),
    ("Mary played tremendously well against the opponent and won for her team. For her contributions, brave",
     "mary"),
]  # fmt: skip


def test_the_lecture_models_read_the_lecturers_words() -> None:
    """The issue's examples: no word of them is unknown any more (a rare word is pieces, not <unk>)."""
    model = load_model(MODELS / "lecture-lstm")
    for text in ("I love Spain", "the students opened their", "Which topic is he talking about?",
                 "John said they speak Hungarian", "My friend Zoltan"):  # fmt: skip
        tokens = model.tokenizer.tokenize(text)
        assert not any(t.unknown for t in tokens), text
    zoltan = model.tokenizer.tokenize("Zoltan")
    assert len(zoltan) > 1 and [t.join for t in zoltan] == [False] + [True] * (len(zoltan) - 1)


@pytest.mark.parametrize(("text", "answer"), OWN_WORDS, ids=[a for _, a in OWN_WORDS])
def test_the_lecture_gru_keeps_the_cue_across_the_sentence(text: str, answer: str) -> None:
    word, p = top("lecture-gru", text)
    assert word == answer and p[answer] > 0.5, f"GRU said {word!r}; p({answer})={p[answer]:.2f}"


@pytest.mark.parametrize(("text", "answer"), OWN_WORDS, ids=[a for _, a in OWN_WORDS])
def test_the_lecture_lstm_says_the_answer_first(text: str, answer: str) -> None:
    """The LSTM too: the answer is its likeliest word (less sure of the name than the GRU: see its card)."""
    word, p = top("lecture-lstm", text)
    assert word == answer and p[answer] > 0.3, f"LSTM said {word!r}; p({answer})={p[answer]:.2f}"


def test_the_lecture_rnn_loses_it() -> None:
    """The same sentences: the RNN of the same vocabulary and decoder says the right word at most for the
    short pronoun gaps, and never for the country or the name."""
    for text, answer in OWN_WORDS:
        word, p = top("lecture-rnn", text)
        if answer not in ("she", "he"):
            assert word != answer and p[answer] < 0.1, f"RNN: {word!r}, p({answer})={p[answer]:.2f}"
