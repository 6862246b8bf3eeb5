"""The recall task's generator: key, digits, '=', key; only the '=' position is scored."""

from __future__ import annotations

import doctest
import re

import numpy as np
import pytest

from app.train.tasks import recall
from app.train.tasks.recall import RECALL_VOCAB, recall_batch, recall_example


def test_docstring_examples_hold():
    result = doctest.testmod(recall)
    assert result.attempted > 0 and result.failed == 0


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
