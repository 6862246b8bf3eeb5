"""The counting task's generator: balanced, bounded, closed strings, and which characters are legal next."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from app.train.tasks import counting
from app.train.tasks.counting import COUNTING_VOCAB, counting_batch, counting_stream, counting_string, legal_next


def test_docstring_examples_hold():
    result = doctest.testmod(counting)
    assert result.attempted > 0 and result.failed == 0


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
