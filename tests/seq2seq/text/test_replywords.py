"""A reply's words as the figures count them (v1's tokenizer, frozen) and its content words, on known answers."""

from seq2seq.text import replywords
from seq2seq.text.replywords import words


def test_words_are_v1_words():
    assert words("I'm FINE, thanks!") == ["i", "'m", "fine", ",", "thanks", "!"]
    assert words("don't @bob see https://x.org/a?b=1 <@!42>") == ["do", "n't", "<user>", "see", "<url>", "<user>"]
    assert words("soooooo good 😂😂") == ["sooo", "good", "😂", "😂"]
    assert words("a\x00b\x01c") == ["ab", "c"]
    assert words("") == []


def test_the_frozen_tokenizer_agrees_with_v1s_text_module():
    # Holds while v1's text module exists; once it is replaced, the frozen copy is the definition.
    from seq2seq.text.corpus import chitchat_pairs
    from seq2seq.text.words import tokenize

    texts = [t for p in chitchat_pairs()[:3000] for t in (p.query, p.reply)]
    texts += ["bad \ud800 surrogate", "x" * 5000 + " end", "<@&7> <#9> www.example.com lol", "ｆｕｌｌ width ’quote’"]
    assert [words(t) for t in texts] == [tokenize(t) for t in texts]


def test_words_and_content_words():
    assert [replywords.is_word(t) for t in ["hi", ",", "...", "😂", "42", "'s", "n't", "—"]] == [
        True,
        False,
        False,
        True,
        True,
        True,
        True,
        False,
    ]
    tokens = ["i", "'m", "going", "to", "the", "game", ",", "it", "'s", "great", "!", "<user>"]
    assert replywords.content_words(tokens) == ["going", "game", "great"]


def test_repeating_a_content_word():
    assert replywords.repeats_content_word(["pizza", "is", "pizza"])
    assert replywords.repeats_content_word(["the", "byu", "job", "at", "byu"])
    assert replywords.repeats_content_word(["haha", "haha"])
    # stop words, punctuation and contraction tails may repeat: "i think it's what it's like, i guess."
    assert not replywords.repeats_content_word(
        ["i", "think", "it", "'s", "what", "it", "'s", "like", ",", "i", "guess", "."]
    )
    assert not replywords.repeats_content_word(["!", "!", "<user>", "<user>"])
    assert not replywords.repeats_content_word([])
