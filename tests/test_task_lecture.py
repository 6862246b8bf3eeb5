"""The lecture task: the generator's stories keep their promise (only the cue decides the answer), its words
are whole words of the vocabulary, the vocabulary is rebuilt exactly from wordfreq, the Wikipedia cleaner
keeps prose, and the hand-written set is well formed and scored as the card says."""

from __future__ import annotations

import doctest
from collections import Counter

import numpy as np
import pytest

from app.nn import random_model
from app.nn.tokenizer import tokenizer_from_config
from app.train import vocab as vocab_module
from app.train.tasks import lecture
from app.train.tasks.lecture import (
    COUNTRY_LANGUAGE,
    FEMALE_NAMES,
    GENDER_NOUNS,
    KINDS,
    LANGUAGES,
    MALE_NAMES,
    NAMES,
    NOUNS,
    VERBS,
    Story,
    generator_words,
    heldout_eval,
    plural,
    read_heldout,
    short_story,
    story,
    wiki_paragraphs,
)
from app.train.vocab import learn_pieces, word_piece_vocab

FEMALE = set(FEMALE_NAMES) | {f for f, _ in GENDER_NOUNS} | {"she", "her", "herself"}
MALE = set(MALE_NAMES) | {m for _, m in GENDER_NOUNS} | {"he", "him", "his", "himself"}


def test_docstring_examples_hold() -> None:
    for module in (lecture, vocab_module):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


# Real text as a training batch's stories meet it: clauses with and without a cue of their own.
PROSE = [
    "The old bridge was rebuilt in the spring of that year. Mary Smith lived near it, and she loved it. "
    "Most of the houses were made of wood; the roads were narrow and full of holes (even in the summer). "
    "The Spanish army left the town. He never came back. Their school was closed for a long time. "
    "It is one of the largest cities in the region, and many of its buildings are very old. People came "
    "from France and Italy. A man opened a shop. The first train arrived in the morning.",
]


@pytest.fixture(scope="module", params=["generated", "real clauses"])
def stories(request: pytest.FixtureRequest) -> dict[str, list[Story]]:
    """The generator's stories, and the same with most distractor clauses from real text (training only):
    every promise below holds for both."""
    rng = np.random.default_rng(2024)
    clauses = lecture.real_clauses(PROSE)
    filler = None if request.param == "generated" else (lambda r: clauses[int(r.integers(len(clauses)))])
    return {kind: [story(rng, kind, filler=filler) for _ in range(400)] for kind in KINDS}


def test_real_clauses_carry_no_cue_of_their_own() -> None:
    assert lecture.real_clauses(PROSE) == [
        "the old bridge was rebuilt in the spring of that year",
        "most of the houses were made of wood",
        "the roads were narrow and full of holes",
        "even in the summer",
        "it is one of the largest cities in the region",
        "and many of its buildings are very old",
        "the first train arrived in the morning",
    ]  # not: a name, a pronoun of a person, a country, a capitalised word, "people", "a man"; nor under 4 words


def test_a_filler_changes_only_the_distractor_clauses() -> None:
    rng = np.random.default_rng(1)
    plain = [story(np.random.default_rng(9), kind, 4) for kind in ("language", "pronoun", "name")]
    real = [story(np.random.default_rng(9), kind, 4, filler=lambda r: "the first train arrived") for kind in
            ("language", "pronoun", "name")]  # fmt: skip
    for a, b in zip(plain, real, strict=True):
        assert a.tokens[: a.cue + 1] == b.tokens[: b.cue + 1]  # the same person and cue: drawn before the clauses
        assert "train" in b.tokens and a.tokens != b.tokens
    assert (
        story(rng, "agreement", 3, filler=lambda r: "x").tokens
        == story(np.random.default_rng(1), "agreement", 3).tokens
    )


def test_every_story_has_its_answer_after_its_cue_and_rivals_that_differ(stories: dict[str, list[Story]]) -> None:
    for kind, found in stories.items():
        for s in found:
            assert s.kind == kind and 0 <= s.cue < s.answer < len(s.tokens), s
            assert s.tokens[s.answer] not in s.choices
            if kind != "fact":
                assert s.choices, s


def test_the_country_alone_decides_the_language(stories: dict[str, list[Story]]) -> None:
    for s in stories["language"]:
        assert s.tokens[s.answer] == COUNTRY_LANGUAGE[s.tokens[s.cue]]
        before = s.tokens[: s.answer]
        assert [w for w in before if w in COUNTRY_LANGUAGE] == [s.tokens[s.cue]], " ".join(s.tokens)
        assert not [w for w in before if w in LANGUAGES], " ".join(s.tokens)
        assert set(s.choices) == set(LANGUAGES) - {s.tokens[s.answer]}
    assert len({s.tokens[s.cue] for s in stories["language"]}) >= 15
    assert max(s.answer - s.cue for s in stories["language"]) > 40  # long distractor clauses


def test_the_head_noun_decides_the_verb_across_attractors(stories: dict[str, list[Story]]) -> None:
    plural_heads = 0
    for s in stories["agreement"]:
        head, verb, (other,) = s.tokens[s.cue], s.tokens[s.answer], s.choices
        is_plural = head not in NOUNS
        assert head in NOUNS or head in {plural(n) for n in NOUNS}
        singular, plural_form = (other, verb) if is_plural else (verb, other)
        assert dict(VERBS)[singular] == plural_form, " ".join(s.tokens)
        plural_heads += is_plural
    assert 0.35 < plural_heads / len(stories["agreement"]) < 0.65


def test_the_referent_decides_the_pronoun(stories: dict[str, list[Story]]) -> None:
    seen = Counter()
    for s in stories["pronoun"]:
        answer, cue = s.tokens[s.answer], s.tokens[s.cue]
        before = set(s.tokens[: s.answer])
        if answer in ("she", "her"):
            assert cue in FEMALE and not before & MALE, " ".join(s.tokens)
        elif answer in ("he", "his"):
            assert cue in MALE and not before & FEMALE, " ".join(s.tokens)
        else:
            assert answer in ("they", "their") and cue.endswith(("s", "children", "people")), " ".join(s.tokens)
            assert not before & (FEMALE | MALE) - {"her", "his"}, " ".join(s.tokens)
        seen[answer] += 1
    assert set(seen) == {"she", "he", "they", "her", "his", "their"}


def test_a_name_said_again_is_the_first_name_and_no_other(stories: dict[str, list[Story]]) -> None:
    for s in stories["name"]:
        assert s.tokens[s.answer] == s.tokens[s.cue] == s.tokens[0]
        assert [w for w in s.tokens[: s.answer] if w in NAMES] == [s.tokens[0]], " ".join(s.tokens)
        assert len(s.choices) == len(NAMES) - 1


def test_a_seed_fixes_the_stories() -> None:
    a = [story(np.random.default_rng(5)).tokens for _ in range(3)]
    b = [story(np.random.default_rng(5)).tokens for _ in range(3)]
    assert a == b
    with pytest.raises(ValueError, match="kind"):
        story(np.random.default_rng(0), "poetry")


def test_every_generated_word_is_a_whole_word_of_the_vocabulary(stories: dict[str, list[Story]]) -> None:
    index = set(lecture.lecture_vocab())
    assert generator_words() <= index
    real = {w for c in lecture.real_clauses(PROSE) for w in c.split()}
    for found in stories.values():
        for s in found:
            assert set(s.tokens) <= index | real, set(s.tokens) - index - real
            assert s.tokens[s.answer] in index  # a batch weighs the answer as one token


def test_short_stories_put_the_cue_a_few_words_before_its_answer() -> None:
    rng = np.random.default_rng(7)
    index = set(lecture.lecture_vocab())
    found = [short_story(rng) for _ in range(600)]
    assert {s.kind for s in found} == {"language", "name", "pronoun"}
    for s in found:
        answer, cue = s.tokens[s.answer], s.tokens[s.cue]
        assert 0 < s.answer - s.cue <= 9 and set(s.tokens) <= index, s
        assert answer not in s.choices and s.choices
        if s.kind == "language":
            assert COUNTRY_LANGUAGE[cue] == answer
            assert [w for w in s.tokens if w in COUNTRY_LANGUAGE] == [cue]
        elif s.kind == "name":
            assert answer == cue and [w for w in s.tokens[: s.answer] if w in NAMES] == [cue]
        else:
            gender = "female" if cue in FEMALE else "male" if cue in MALE else "plural"
            assert answer in (lecture.PRONOUNS[gender]["subj"], lecture.PRONOUNS[gender]["pos"]), s
            assert len(s.choices) == 2


def test_a_training_batch_mixes_short_and_long_stories_with_text(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {"kind": "word", "vocab": list(lecture.lecture_vocab()), "unk": "<unk>", "lowercase": True}
    data = lecture.LectureData(tokenizer_from_config(config), ["the cat sat on the mat ."] * 200)
    made: list[Story] = []
    monkeypatch.setattr(lecture, "short_story", lambda rng: made.append(short_story(rng)) or made[-1])
    rng = np.random.default_rng(3)
    for _ in range(10):
        inputs, _targets, mask = data.batch(rng)
        assert inputs.shape[0] == lecture.STORY_ROWS + lecture.TEXT_ROWS
        answers = (mask == lecture.ANSWER_WEIGHT).sum(1)
        assert answers[: lecture.STORY_ROWS].tolist() == [1] * lecture.STORY_ROWS  # one answer a story
        assert answers[lecture.STORY_ROWS :].sum() == 0  # the text rows weigh every token alike
    share = len(made) / (10 * lecture.STORY_ROWS)
    assert abs(share - lecture.SHORT_SHARE) < 0.1, share


def test_byte_pair_pieces_are_deterministic_and_cover_any_word() -> None:
    freq = {"walking": 5.0, "talking": 4.0, "walked": 3.0, "talked": 2.0, "zebra": 1.0}
    assert learn_pieces(freq, 6) == learn_pieces(dict(freq), 6)
    vocab = word_piece_vocab(freq, n_words=0, n_merges=8)
    model = random_model("lstm", vocab=vocab, tokenizer="word", hidden_size=4)
    for word in ("walking", "quizzically", "zoltan"):
        pieces = model.tokenizer.tokenize(word)
        assert "".join(t.text for t in pieces) == word and not any(t.unknown for t in pieces)
        assert [t.join for t in pieces] == [False] + [True] * (len(pieces) - 1)
    assert len(model.tokenizer.tokenize("walking")) < len("walking")  # merges were learned and used


def test_the_vocabulary_is_rebuilt_exactly_from_wordfreq() -> None:
    """The shipped lecture models' vocabulary comes from wordfreq 3.1.1 and our generator, nothing else."""
    import json

    from app.nn import shipped_models_dir

    card = json.loads((shipped_models_dir() / "lecture-lstm" / "model.json").read_text())
    lecture.lecture_vocab.cache_clear()
    assert list(lecture.lecture_vocab()) == card["tokenizer"]["vocab"]
    assert len(card["tokenizer"]["vocab"]) <= 8000


def test_wiki_paragraphs_keep_prose_and_drop_markup() -> None:
    xml = (
        "<page><text>#REDIRECT [[Elsewhere]]</text></page>"
        "<page><text>{{Infobox|a={{b}}}}\n== History ==\n* a list item that is long enough to count as prose here\n"
        "'''Anna''' was born in [[Vienna|the capital]] and lived there for many years before she moved away "
        "to work.&lt;ref&gt;cite&lt;/ref&gt;\n[[File:x.jpg|thumb|a picture]]\n{| class=x\n| cell |}\n"
        "Short line.</text></page>"
    )
    assert wiki_paragraphs(xml) == [
        "Anna was born in the capital and lived there for many years before she moved away to work."
    ]


def test_the_hand_written_set_is_well_formed() -> None:
    items = read_heldout()
    assert len(items) >= 150
    kinds = Counter(it.kind for it in items)
    assert set(kinds) == {"language", "agreement", "pronoun", "name", "fact"} and min(kinds.values()) >= 20
    assert len({it.cue for it in items if it.kind == "language"}) >= 10
    assert len({it.text for it in items}) == len(items)  # no sentence twice
    for it in items:
        assert it.answer not in it.choices and (it.choices or it.kind == "fact")


def test_the_second_hand_written_set_is_languages_no_sentence_of_the_first_has() -> None:
    second = read_heldout(lecture.HELDOUT.with_name("lecture_heldout_2.tsv"))
    assert len(second) >= 30 and {it.kind for it in second} == {"language"}
    assert len({it.cue for it in second}) >= 15
    first = {it.text for it in read_heldout()}
    assert len({it.text for it in second} | first) == len(second) + len(first)
    for it in second:
        assert lecture.COUNTRY_LANGUAGE[it.cue] == it.answer and it.answer not in it.choices


def test_the_hand_written_score_is_the_share_whose_answer_beats_its_rivals() -> None:
    """On a model whose decoder prefers one word, the score counts exactly the items it answers."""
    vocab = ["<unk>", "i", "lived", "in", "spain", "speak", "spanish", "french", "the", "keys", "are", "is", "z",
             "##ol", "##tan", "he", "she", "."]  # fmt: skip
    model = random_model("lstm", vocab=vocab, tokenizer="word", hidden_size=4, seed=1)
    model.params["decoder.weight"][:] = 0.0
    model.params["decoder.bias"][:] = 0.0
    model.params["decoder.bias"][vocab.index("spanish")] = 3.0
    model.params["decoder.bias"][vocab.index("z")] = 1.0
    items = [
        lecture.Item("language", "I lived in Spain . I speak", "spanish", ("french",), "spain"),
        lecture.Item("agreement", "the keys", "are", ("is",), "keys"),  # are and is tie: not right
        lecture.Item("name", "Zoltan lived in Spain . I speak", "zoltan", ("spanish",), "zoltan"),
    ]
    out = heldout_eval(model, items)
    assert out["count"] == 3
    assert out["accuracy"] == pytest.approx(1 / 3, abs=1e-4) and out["top1"] == pytest.approx(1 / 3, abs=1e-4)
    assert out["by_kind"]["language"]["accuracy"] == 1.0 and out["by_kind"]["name"]["accuracy"] == 0.0
    # zoltan = z ##ol ##tan: p(z)·p(ol|z)·p(tan|z ol) < p(spanish), although z alone is its top-1
    assert out["by_distance"]["1-3"]["count"] == 1  # keys → are: 1 word
    assert out["by_distance"]["4-8"]["count"] == 2  # spain → spanish: 4 words; zoltan → zoltan: 7


def test_a_batch_weighs_the_answer_when_real_clauses_come_in_pieces() -> None:
    config = {"kind": "word", "vocab": list(lecture.lecture_vocab()), "unk": "<unk>", "lowercase": True}
    tokenizer = tokenizer_from_config(config)
    rare = "the zygomorphic flowers of the quercetin family grew near the walls ."
    assert len(tokenizer.tokenize(rare)) > len(rare.split())  # some of its words are pieces
    data = lecture.LectureData(tokenizer, [rare] * 50)
    assert data.clauses
    rng = np.random.default_rng(4)
    answers = generator_words()  # every answer is one of its words, never a piece of real text
    for _ in range(10):
        _inputs, targets, mask = data.batch(rng)
        weighted = targets[: lecture.STORY_ROWS][mask[: lecture.STORY_ROWS] == lecture.ANSWER_WEIGHT]
        assert {tokenizer.vocab[int(t)] for t in weighted} <= answers  # the weight sits on the answer itself


def test_word_noise_replaces_only_the_words_between_the_cue_and_the_answers_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = {"kind": "word", "vocab": list(lecture.lecture_vocab()), "unk": "<unk>", "lowercase": True}
    data = lecture.LectureData(tokenizer_from_config(config), ["the cat sat on the mat ."] * 200)
    assert len(data.common) > 2000 and not set(data.common) & lecture._NOT_NEUTRAL
    monkeypatch.setattr(lecture, "WORD_NOISE", 0.5)
    rng = np.random.default_rng(5)
    changed = 0
    for _ in range(200):
        s = lecture.story(rng)
        n = data.noisy(rng, s)
        assert (n.kind, n.answer, n.cue, n.choices) == (s.kind, s.answer, s.cue, s.choices)
        keep = max(s.cue + 1, s.answer - lecture.NOISE_KEEP)
        assert n.tokens[: s.cue + 1] == s.tokens[: s.cue + 1]  # the cue and all before it
        assert n.tokens[keep:] == s.tokens[keep:]  # the answer's frame, the answer and what follows
        for a, b in zip(s.tokens, n.tokens, strict=True):
            if a != b:
                changed += 1
                assert b in data.common and a.isalpha()  # a word for a word, punctuation kept
    assert changed > 200


def test_without_word_noise_a_batch_never_draws_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # WORD_NOISE 0 (the recipe of the earlier runs): noisy is never called, so the rng draws and batches are as then.
    config = {"kind": "word", "vocab": list(lecture.lecture_vocab()), "unk": "<unk>", "lowercase": True}
    data = lecture.LectureData(tokenizer_from_config(config), ["the cat sat on the mat ."] * 200)
    monkeypatch.setattr(lecture, "WORD_NOISE", 0.0)
    monkeypatch.setattr(data, "noisy", lambda rng, s: pytest.fail("drew word noise with WORD_NOISE = 0"))
    data.batch(np.random.default_rng(6))
