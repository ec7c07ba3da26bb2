"""learncheck's new-words log: the same log for the same seed, words the base corpus lacks, each used often enough."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from benchmarks import newwords
from seq2seq.text.subword import COMMON_EMOJI, normalise


@pytest.fixture(scope="module")
def base_turns() -> list[str]:
    return newwords.base_turns()


@pytest.fixture(scope="module")
def log() -> newwords.NewWordsLog:
    return newwords.build_log(seed=7, min_count=20, min_heldout=2)


def turns_of(pairs) -> list[str]:
    """Each turn of each segment once (pairs repeat a turn as one pair's reply and the next one's query)."""
    out = []
    for p in pairs:
        if not p.context:
            out.append(p.query)
        out.append(p.reply)
    return out


def test_the_same_seed_builds_the_same_log_and_another_seed_another(log):
    again = newwords.build_log(seed=7, min_count=20, min_heldout=2)
    assert again.train == log.train and again.heldout == log.heldout
    assert newwords.build_log(seed=8, min_count=20, min_heldout=2).train != log.train


def test_every_word_occurs_twenty_times_in_the_fine_tune_part_and_in_held_out_prompts(log):
    assert len(log.words) >= 40
    counted = Counter()
    for turn in turns_of(log.train):
        for word in log.words:
            counted[word] += newwords.occurrences(word, turn)
    assert {w: counted[w] for w in log.words} == log.counts  # the builder's own count is right
    assert min(log.counts.values()) >= 20
    assert min(log.heldout_counts.values()) >= 2
    assert not {p.group for p in log.train} & {p.group for p in log.heldout}  # split by conversation
    # A reply to a message naming a new thing often names it too (the same word for the same thing).
    mentioned = [p for p in log.train if newwords.words_in(p.query, log.words)]
    echoed = [p for p in mentioned if newwords.words_in(p.query, log.words) & newwords.words_in(p.reply, log.words)]
    assert len(echoed) >= 0.1 * len(mentioned)


def test_the_words_are_absent_from_the_base_corpus(log, base_turns):
    # Checked here independently of the builder's check: a plain scan of the base corpus' lower-cased text.
    text = "\n".join(base_turns).lower()
    tokens = set(re.findall(r"\w+", text))
    for word in log.words:
        name = re.fullmatch(r"<a?:(\w+):\d+>", word)
        if name:
            assert name.group(1).lower() not in tokens, word
        elif word.isalpha():
            assert word.lower() not in tokens, word
        else:
            assert word not in text, word
    # The emoji are not among the tokenizer's own emoji pieces either: the model has to learn their bytes.
    assert not {w for w in log.words if not w.isalpha() and not w.startswith("<")} & set(COMMON_EMOJI)


def test_the_builder_refuses_a_word_the_base_corpus_has(monkeypatch):
    monkeypatch.setitem(newwords.NEW_WORDS, "slang", ("glorpy", "pizza"))
    with pytest.raises(ValueError, match="pizza"):
        newwords.build_log()


def test_occurrences_are_whole_words_as_the_model_sees_them():
    assert newwords.occurrences("Glorpy", "so GLORPY, glorpy! glorpyness") == 2
    assert newwords.occurrences("<:pogfish:1034567890123456789>", "hi <:pogfish:id> <:pogfish:42424242>") == 2
    assert newwords.occurrences("🦑", "🦑🦑 ok") == 2
    assert normalise("<a:partyparrot:1034567890123456794>") == "<a:partyparrot:id>"


def test_learncheck_counts_a_reply_that_says_what_the_human_said_as_following_and_a_plain_one_as_not(log):
    from benchmarks.learncheck import reply_figures

    echoed = reply_figures([p.reply for p in log.heldout], log)
    in_replies = set().union(*(newwords.words_in(p.reply, log.words) for p in log.heldout))
    assert echoed["used_share"] == len(in_replies) / len(log.words) > 0.9
    assert echoed["followed_share"] == 1.0 and echoed["followed_same_share"] == 1.0
    assert echoed["unprompted_share"] == 0.0
    plain = reply_figures(["that sounds fun"] * len(log.heldout), log)
    assert plain["used_share"] == 0.0 and plain["followed_share"] == 0.0
    one_word = sorted(log.words)[0]
    said = reply_figures([f"i love {one_word}"] * len(log.heldout), log)
    human_uses = [p for p in log.heldout if newwords.words_in(p.reply, log.words)]
    assert said["used_share"] == 1 / len(log.words) and said["followed_share"] == 1.0
    assert said["unprompted_share"] == pytest.approx(1 - len(human_uses) / len(log.heldout))
    # Copying: a reply that repeats the conversation's own new words copies wherever one was named; a fixed word
    # only where that word was.
    named = [newwords.words_in(f"{p.context or ''} {p.query}", log.words) for p in log.heldout]
    assert reply_figures([" ".join(sorted(n)) for n in named], log)["copied_share"] == 1.0
    with_one = [n for n in named if n]
    assert said["copied_share"] == pytest.approx(sum(1 for n in with_one if one_word in n) / len(with_one))
    assert plain["copied_share"] == 0.0
