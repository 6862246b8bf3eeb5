"""Continuation (app/nn/generate.py): greedy is deterministic, the same tokens as taking the argmax of a full
trace's last step again and again, within its bounds, and reads unknown input as the trace does; a sample is
fixed by its seed, follows the model's distribution and keeps to its top-k and nucleus."""

from __future__ import annotations

import numpy as np
import pytest

from app.nn import TraceInputError, load_model, random_model, run_trace, shipped_models_dir
from app.nn.generate import MAX_CONTINUATION, Sampling, continue_text, default_length, join_tokens
from app.nn.model import Model
from app.nn.tokenizer import Token

WORD_VOCAB = ["<unk>", "the", "keys", "to", "cabinet", "is", "are", "on", "table", "a", "cat", "sat", ".", ","]


def argmax_by_retracing(model: Model, text: str, length: int) -> list[Token]:
    """The slow reference: trace the whole growing sequence each time and take the last step's likeliest
    known token."""
    tokens = model.tokenizer.tokenize(text)
    unk = model.tokenizer.index[model.tokenizer.unk]
    out: list[Token] = []
    for _ in range(length):
        p = run_trace(model, tokens + out, gradients=False).probs[-1].copy()
        p[unk] = -1.0
        k = int(np.argmax(p))
        out.append(Token(model.vocab[k], k, False))
    return out


@pytest.mark.parametrize(
    ("model", "text"),
    [
        (random_model("lstm", hidden_size=12, seed=5), "the cat sat"),
        (random_model("rnn", hidden_size=10, seed=6), "a, b."),
        (random_model("gru", layers=2, hidden_size=7, seed=7), "xyz"),
        (random_model("lstm", vocab=WORD_VOCAB, tokenizer="word", hidden_size=6, seed=8), "the keys to the"),
    ],
    ids=["lstm", "rnn", "gru-2-layers", "word-lstm"],
)
def test_continuation_equals_iterated_argmax_of_the_trace(model: Model, text: str) -> None:
    got = continue_text(model, text, 15)
    want = argmax_by_retracing(model, text, 15)
    assert [t.id for t in got] == [t.id for t in want], (join_tokens(model, got), join_tokens(model, want))
    assert all(not t.unknown and t.text == model.vocab[t.id] for t in got)


def test_continuation_is_deterministic_and_a_prefix_of_a_longer_one() -> None:
    model = load_model(shipped_models_dir() / "shakespeare-lstm")
    line = "By this, she hears the hounds are at a bay;\n"
    a = continue_text(model, line, 60)
    assert a == continue_text(model, line, 60)
    assert continue_text(model, line, 120)[:60] == a
    assert len(join_tokens(model, a)) == 60


def test_the_shakespeare_twins_continue_the_same_line_differently() -> None:
    """The slides' demo: the same line, two models, two continuations (real text, no unknown tokens)."""
    line = "Wreathed up in fatal folds just in his "
    out = {}
    for model_id in ("shakespeare-lstm", "shakespeare-rnn"):
        model = load_model(shipped_models_dir() / model_id)
        out[model_id] = join_tokens(model, continue_text(model, line, 85))
        assert len(out[model_id]) == 85
        assert "<unk>" not in out[model_id]
    assert out["shakespeare-lstm"] != out["shakespeare-rnn"]


def test_default_lengths() -> None:
    assert default_length(random_model("lstm")) == 200
    assert default_length(random_model("lstm", vocab=WORD_VOCAB, tokenizer="word")) == 20
    assert len(continue_text(random_model("lstm"), "ab")) == 200


@pytest.mark.parametrize("length", [0, -3, MAX_CONTINUATION + 1])
def test_length_out_of_bounds_is_refused(length: int) -> None:
    with pytest.raises(TraceInputError, match="1 to 400") as e:
        continue_text(random_model("lstm"), "abc", length)
    assert e.value.code == "bad_length"


def test_bounds_are_inclusive() -> None:
    model = random_model("rnn", hidden_size=4)
    assert len(continue_text(model, "a", 1)) == 1
    assert len(continue_text(model, "a", MAX_CONTINUATION)) == MAX_CONTINUATION


def test_empty_text_is_refused() -> None:
    with pytest.raises(TraceInputError) as e:
        continue_text(random_model("lstm"), "", 5)
    assert e.value.code == "empty_text"


def test_unknown_characters_are_read_as_the_unknown_token_and_never_written() -> None:
    model = random_model("lstm", hidden_size=8, seed=9)
    # '€' and 'Q' are not in the vocabulary: read as <unk>, just as the trace reads them.
    got = continue_text(model, "a€Qb", 30)
    assert got == argmax_by_retracing(model, "a€Qb", 30)
    assert continue_text(model, "a€Qb", 30) == continue_text(model, "a<>b", 30)  # both unknown → same ids
    assert all(t.text != "<unk>" for t in got)


def test_a_model_whose_argmax_is_the_unknown_token_writes_the_next_best() -> None:
    model = random_model("lstm", hidden_size=8, seed=10)
    model.params["decoder.bias"][model.tokenizer.index["<unk>"]] = 1e3  # <unk> would always win
    got = continue_text(model, "abc", 10)
    assert all(not t.unknown and t.text != "<unk>" for t in got)


def test_word_continuations_read_back_into_the_same_tokens() -> None:
    model = random_model("lstm", vocab=WORD_VOCAB, tokenizer="word", hidden_size=6, seed=11)
    tokens = continue_text(model, "the cat", 12)
    text = join_tokens(model, tokens)
    assert text.startswith(" ")
    assert [t.id for t in model.tokenizer.tokenize(text)] == [t.id for t in tokens]


# ------------------------------------------------------------------------------------------------ sampling
def test_a_seed_fixes_a_sample_and_another_seed_writes_another() -> None:
    model = load_model(shipped_models_dir() / "shakespeare-lstm")
    line = "To be, or not to be"
    a = continue_text(model, line, 120, Sampling(0.8, 40, 0.95, seed=7))
    assert a == continue_text(model, line, 120, Sampling(0.8, 40, 0.95, seed=7))
    assert a != continue_text(model, line, 120, Sampling(0.8, 40, 0.95, seed=8))
    assert a != continue_text(model, line, 120)  # greedy loops ("the state of the state"); a sample does not


def test_top_k_of_one_is_greedy_at_any_temperature() -> None:
    model = random_model("lstm", hidden_size=12, seed=5)
    greedy = continue_text(model, "the cat sat", 40)
    for seed in (1, 2, 3):
        assert continue_text(model, "the cat sat", 40, Sampling(1.7, 1, 1.0, seed)) == greedy


def test_the_sampling_distribution_keeps_the_top_k_and_the_nucleus() -> None:
    logits = np.log(np.array([0.05, 0.4, 0.1, 0.3, 0.15]))
    p = Sampling(1.0).probabilities(logits)
    np.testing.assert_allclose(p, [0.05, 0.4, 0.1, 0.3, 0.15])
    p = Sampling(1.0, top_k=2).probabilities(logits)
    np.testing.assert_allclose(p, [0, 0.4 / 0.7, 0, 0.3 / 0.7, 0])
    p = Sampling(1.0, top_p=0.8).probabilities(logits)  # 0.4 + 0.3 < 0.8 ≤ 0.4 + 0.3 + 0.15
    np.testing.assert_allclose(p, [0, 0.4 / 0.85, 0, 0.3 / 0.85, 0.15 / 0.85])
    p = Sampling(0.5).probabilities(logits)  # a low temperature sharpens: p ∝ p₀²
    np.testing.assert_allclose(
        p, np.array([0.05, 0.4, 0.1, 0.3, 0.15]) ** 2 / (np.array([0.05, 0.4, 0.1, 0.3, 0.15]) ** 2).sum()
    )


def test_sampled_tokens_follow_the_distribution() -> None:
    """The first written token over 4,000 seeds: its frequencies match the model's probabilities."""
    model = random_model("lstm", vocab=["<unk>", "a", "b", "c", "d"], hidden_size=4, seed=3)
    model.params["decoder.weight"][:] = 0.0
    model.params["decoder.bias"][:] = np.log([1e-9, 0.1, 0.2, 0.3, 0.4])  # <unk> is never written anyway
    counts = np.zeros(5)
    for seed in range(4000):
        counts[continue_text(model, "a", 1, Sampling(1.0, seed=seed))[0].id] += 1
    np.testing.assert_allclose(counts[1:] / 4000, [0.1, 0.2, 0.3, 0.4], atol=0.025)


@pytest.mark.parametrize(
    ("sampling", "words"),
    [
        (dict(temperature=-0.1), "temperature"), (dict(temperature=2.5), "temperature"),
        (dict(temperature=1.0, top_k=-1), "top_k"), (dict(temperature=1.0, top_p=0.0), "top_p"),
        (dict(temperature=1.0, seed=-1), "seed"), (dict(temperature=1.0, seed=2**32), "seed"),
    ],
)  # fmt: skip
def test_bad_sampling_is_refused(sampling: dict, words: str) -> None:
    with pytest.raises(TraceInputError, match=words) as e:
        Sampling(**sampling)
    assert e.value.code == "bad_sampling"


def test_word_pieces_are_written_joined_to_their_word() -> None:
    vocab = ["<unk>", "my", "friend", "z", "##ol", "##tan", "."]
    model = random_model("lstm", vocab=vocab, tokenizer="word", hidden_size=6, seed=4)
    assert [(t.text, t.join) for t in model.tokenizer.tokenize("my friend Zoltan.")][2:5] == [
        ("z", False),
        ("ol", True),
        ("tan", True),
    ]
    written = [model.tokenizer.token(k) for k in (1, 3, 4, 5, 6)]
    assert join_tokens(model, written) == " my zoltan ."
    assert all(t.text == vocab[t.id].removeprefix("##") for t in continue_text(model, "my", 30, Sampling(1.0, seed=1)))
