"""The grammar task's generator (the first lecture models'): each kind's promises, determinism, held-out fillers."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from app.train.tasks import grammar as data
from app.train.tasks.grammar import (
    COUNTRY_LANGUAGE,
    FILLER_LENGTHS,
    HELDOUT_FILLERS,
    LECTURE_KINDS,
    TRAIN_FILLERS,
    LectureExample,
    lecture_batch,
    lecture_sentence,
    lecture_vocab,
    word_tokenize,
)

GENDER_WORDS = set(data._GENDER_WORDS)
SUBJECT_NOUNS = {w for pair in data._SUBJECTS for w in pair}
PLACE_WORDS = set(COUNTRY_LANGUAGE) | set(COUNTRY_LANGUAGE.values())


def test_docstring_examples_hold():
    result = doctest.testmod(data)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------------------------------------
# lecture
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def examples() -> dict[str, list[LectureExample]]:
    rng = np.random.default_rng(4)
    return {split: [lecture_sentence(rng, split) for _ in range(1500)] for split in ("train", "heldout")}


def test_lecture_vocab_is_closed_sorted_and_a_few_hundred_words():
    vocab = lecture_vocab()
    assert vocab[0] == "<unk>" and vocab[1:] == sorted(vocab[1:]) and len(set(vocab)) == len(vocab)
    assert 200 <= len(vocab) <= 600


def test_every_generated_token_is_in_the_vocab_and_the_vocab_is_all_used(examples):
    vocab = set(lecture_vocab())
    seen = {tok for split in examples.values() for ex in split for tok in ex.tokens}
    assert seen <= vocab, seen - vocab
    assert vocab - seen == {"<unk>"}, "no vocabulary word is dead weight"


def test_every_kind_appears(examples):
    for split in examples.values():
        assert {ex.kind for ex in split} == set(LECTURE_KINDS)


def between(ex: LectureExample) -> list[str]:
    return ex.tokens[ex.cue_index + 1 : ex.answer_index]


def test_language_answer_follows_from_the_country_alone(examples):
    for ex in (ex for split in examples.values() for ex in split if ex.kind == "language"):
        country = ex.tokens[ex.cue_index]
        assert ex.tokens[ex.answer_index] == COUNTRY_LANGUAGE[country]
        assert not PLACE_WORDS & set(between(ex)), " ".join(ex.tokens)
        assert [t for t in ex.tokens if t in PLACE_WORDS] == [country, COUNTRY_LANGUAGE[country]]


def test_agreement_verb_follows_the_subject_number(examples):
    number_of = {w: n for pair in data._SUBJECTS for n, w in enumerate(pair)}
    verbs = {"was": 0, "is": 0, "has": 0, "were": 1, "are": 1, "have": 1}
    for ex in (ex for split in examples.values() for ex in split if ex.kind == "agreement"):
        assert ex.tokens[ex.answer_index - 1] == ","
        assert verbs[ex.tokens[ex.answer_index]] == number_of[ex.tokens[ex.cue_index]], " ".join(ex.tokens)
        assert not (SUBJECT_NOUNS | set(verbs)) & set(between(ex)), " ".join(ex.tokens)


def test_gender_pronoun_follows_the_latest_gender_word(examples):
    gender_of = data._GENDER_WORDS
    for ex in (ex for split in examples.values() for ex in split if ex.kind == "gender"):
        cue, answer = ex.tokens[ex.cue_index], ex.tokens[ex.answer_index]
        assert answer in {"he", "she", "his", "her"}
        assert gender_of[cue] == gender_of[answer], " ".join(ex.tokens)
        assert not GENDER_WORDS & set(between(ex)), " ".join(ex.tokens)
        names = [t for t in ex.tokens if t in gender_of and t not in {"he", "she", "his", "her"}]
        assert {gender_of[t] for t in names} == {gender_of[answer]}, "one person throughout"


def test_facts_are_short_range(examples):
    facts = [ex for ex in examples["train"] if ex.kind == "fact"]
    sentences = {" ".join(ex.tokens) for ex in facts}
    assert {"the clouds are in the sky .", "the fish swim in the sea ."} <= sentences
    for ex in facts:
        assert ex.answer_index == len(ex.tokens) - 2 and 0 < ex.answer_index - ex.cue_index <= 5


def test_filler_lengths_are_exact_and_in_range(examples):
    for split, exs in examples.items():
        low, high = FILLER_LENGTHS[split]
        lengths = {ex.filler_len for ex in exs if ex.kind != "fact"}
        assert lengths == set(range(low, high + 1)), split
    rng = np.random.default_rng(5)
    for n in (0, 1, 2, 3, 13, 25):
        for kind in ("language", "agreement", "gender"):
            ex = lecture_sentence(rng, "heldout", kind=kind, filler_len=n)
            assert ex.filler_len == n and ex.kind == kind
            assert ex.answer_index - ex.cue_index > n, "the filler lies between cue and answer"


def filler_units(pool: tuple[str, ...]) -> list[list[str]]:
    return [word_tokenize(u) for u in pool]


def test_fillers_are_neutral():
    banned = PLACE_WORDS | GENDER_WORDS | SUBJECT_NOUNS | {"is", "are", "was", "were", "has", "have"}
    banned |= {"speak", "fluent", ",", "."} | {str(n) for n in range(100)}
    for unit in filler_units(TRAIN_FILLERS + HELDOUT_FILLERS):
        assert not banned & set(unit), unit


def test_heldout_fillers_are_unseen_clauses_of_training_words(examples):
    assert not set(TRAIN_FILLERS) & set(HELDOUT_FILLERS)
    train_words = data._vocab_set(with_heldout=False)
    for unit in filler_units(HELDOUT_FILLERS):
        assert set(unit) <= train_words, unit
    train_text = [f" {' '.join(ex.tokens)} " for ex in examples["train"]]
    for unit in HELDOUT_FILLERS:
        if " " in unit:  # a lone word is bound to occur somewhere; a clause must not
            assert not any(f" {unit} " in text for text in train_text), unit


def test_lecture_is_deterministic_for_a_seed():
    a = [lecture_sentence(np.random.default_rng(7), "heldout") for _ in range(3)]
    b = [lecture_sentence(np.random.default_rng(7), "heldout") for _ in range(3)]
    assert a == b
    for make in (lambda r: lecture_batch(r, 8),):
        for x, y in zip(make(np.random.default_rng(9)), make(np.random.default_rng(9)), strict=True):
            np.testing.assert_array_equal(x, y)


def test_lecture_batch_weights_the_answer_and_hides_padding():
    vocab = lecture_vocab()
    inputs, targets, mask = lecture_batch(np.random.default_rng(8), 32, split="heldout", answer_weight=5.0)
    rng = np.random.default_rng(8)  # the same draws, one sentence at a time
    expected = [lecture_sentence(rng, "heldout") for _ in range(32)]
    assert inputs.shape == targets.shape == mask.shape == (32, max(len(ex.tokens) for ex in expected) - 1)
    for b, ex in enumerate(expected):
        n = len(ex.tokens) - 1
        assert [vocab[k] for k in inputs[b, :n]] == ex.tokens[:-1]
        assert [vocab[k] for k in targets[b, :n]] == ex.tokens[1:]
        assert vocab[targets[b, ex.answer_index - 1]] == ex.tokens[ex.answer_index]
        assert mask[b, ex.answer_index - 1] == 5.0
        assert np.sum(mask[b] == 1.0) == n - 1 and np.all(mask[b, n:] == 0) and np.all(inputs[b, n:] == 0)


def test_lecture_rejects_unknown_split_and_kind():
    with pytest.raises(ValueError):
        lecture_sentence(np.random.default_rng(0), "test")
    with pytest.raises(ValueError):
        lecture_sentence(np.random.default_rng(0), kind="poetry")
