"""Tokenizer and detokenizer: placeholders, natural joining, hostile input."""

from seq2seq.text.words import MAX_INPUT_CHARS, URL_TOKEN, USER_TOKEN, clean, detokenize, tokenize


def test_tokenize_lowercases_and_splits_contractions():
    assert tokenize("I'm FINE, thanks!") == ["i", "'m", "fine", ",", "thanks", "!"]


def test_urls_and_mentions_become_placeholders():
    tokens = tokenize("look https://example.com/x?y=1 <@123456789> and <@!42> @bob")
    assert tokens.count(URL_TOKEN) == 1
    assert tokens.count(USER_TOKEN) == 3
    assert "example" not in " ".join(tokens)


def test_detokenize_writes_natural_text():
    assert detokenize(["i", "'m", "fine", ",", "thanks", "!"]) == "i'm fine, thanks!"
    assert detokenize(["what", "'s", "up", "?", "i", "do", "n't", "know", "..."]) == "what's up? i don't know..."
    assert detokenize(["ok", "(", "really", ")", "100", "%"]) == "ok (really) 100%"


def test_round_trip_of_ordinary_sentences():
    for sentence in ["hi there! how are you?", "i don't know, maybe tomorrow.", "that's great :)"]:
        assert detokenize(tokenize(sentence)) == sentence


def test_hostile_input_is_cleaned_not_crashing():
    assert clean("a\x00b\x01c") == "ab c"
    assert "\ud800" not in clean("bad \ud800 surrogate")
    assert len(clean("x" * 10_000)) == MAX_INPUT_CHARS
    assert tokenize("") == []
    assert tokenize("   \n\t ") == []
    assert tokenize("😀😀") == ["😀", "😀"]
    assert tokenize("Привет, как дела?")[0] == "привет"
    assert tokenize("مرحبا بك") == ["مرحبا", "بك"]
