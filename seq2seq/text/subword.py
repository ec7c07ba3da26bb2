"""The open-vocabulary tokenizer of model v2: text normalisation and a SentencePiece model with byte fallback.

Normalisation (`normalise`), applied before every encode, so `decode(encode(x)) == normalise(x)` for any x:
  1. lone surrogates become "?" (nothing downstream can encode them), then Unicode NFKC;
  2. curly quotes become straight ones (’ ‘ ʼ → ', “ ” → "); control characters are dropped and U+2581
     (SentencePiece's space mark) becomes a space;
  3. links become `<url>`, Discord mentions and @handles become `<user>` (the regexes of `seq2seq.text.words`);
  4. a Discord custom emoji `<:name:123…>` / `<a:name:123…>` becomes `<:name:id>` / `<a:name:id>`: the name
     is what a model can learn (as subwords); the snowflake id is a lookup key the bot restores from its
     server's emoji (`seq2seq.protocol.emoji`);
  5. lower case (measured: `benchmarks/subword_bench.py`; the corpus' casing is inconsistent, "I"/"i");
  6. every run of white space (newlines included) becomes one space, and the ends are trimmed.
Everything else (emoji, other scripts) is kept: characters the model has no piece for are spelled as
UTF-8 bytes, so no input ever maps to UNK. The ids of the special pieces are `seq2seq.text.vocab`'s.
"""

from __future__ import annotations

import io
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm

from seq2seq.protocol.emoji import CUSTOM_EMOJI_RE
from seq2seq.text.vocab import BOS, BOS_ID, EOS, EOS_ID, PAD, PAD_ID, SEP, SEP_ID, SERVER_TAG_ID, UNK, UNK_ID
from seq2seq.text.words import MENTION_RE, URL_RE, URL_TOKEN, USER_TOKEN

MODEL_FILE = "subword.model"
SETTINGS_FILE = "subword.json"
FORMAT = 1

# `<:name:id>`: the frame pieces are symbols of their own, so the name between them is plain subwords.
EMOJI_OPEN, ANIMATED_OPEN, EMOJI_CLOSE = "<:", "<a:", ":id>"
# The most used emoji on chat platforms, one piece each, so a fine-tune learns them as words. Others are
# spelled in bytes, which works as well but costs four pieces each.
COMMON_EMOJI = tuple(
    "😂 ❤️ ❤ 🤣 😍 😭 😊 🙏 😘 🥰 😁 👍 🔥 💀 😅 🥺 😢 😎 🙄 🤔 😆 😉 👀 💯 🙂 😀 😃 😄 🥲 😔 😩 😡 😤 😳 "
    "🤷 🤦 👏 🙌 💕 💖 💜 💙 💚 🖤 💛 🎉 ✨ 😏 😒 😴 🤗 😬 🤪 😜 😋 🥳 😇 🤡 👋 💪 ✅ ❌ ⭐ 😱 😞 🤮 🙃 "
    "😐 😶 💔 ☺️ ✌️ 🤞 👌 😌 😑 🙈 😮 🤩 🫡 🫠 🤤 😫 😪 👎 🤝 ♥️".split()
)
SYMBOLS = (URL_TOKEN, USER_TOKEN, EMOJI_OPEN, ANIMATED_OPEN, EMOJI_CLOSE, *COMMON_EMOJI)

_QUOTES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"'})
_SPACE_MARK = "\u2581"


def normalise(text: str, lowercase: bool = True) -> str:
    """The text as the model sees it (see the module docstring for each step)."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    # Before the patterns below: a control character inside a link would hide it until a second pass.
    text = "".join(" " if c == _SPACE_MARK else c for c in text if not _is_control(c))
    text = URL_RE.sub(f" {URL_TOKEN} ", text)
    text = MENTION_RE.sub(f" {USER_TOKEN} ", text)
    text = CUSTOM_EMOJI_RE.sub(r"<\1:\2:id>", text)
    if lowercase:
        # NFKC again: lower-casing can make a sequence that composes differently ("İ" → "i̇").
        text = unicodedata.normalize("NFKC", text.lower())
    return " ".join(text.split())


def _is_control(char: str) -> bool:
    # White-space controls (tab, newline) become spaces in the split above; the rest carry nothing.
    return unicodedata.category(char) == "Cc" and not char.isspace()


@dataclass(frozen=True)
class SubwordSettings:
    vocab_size: int = 8000  # pieces, the special ones, symbols and 256 bytes included
    model_type: str = "unigram"  # or "bpe"
    lowercase: bool = True
    max_sentences: int = 1_000_000  # texts sampled for training
    seed_sentencepiece_size: int = 1_000_000


class SubwordTokenizer:
    """Normalised text ↔ piece ids. Ids 0-4 are PAD, UNK, BOS, EOS and SEP, as in `seq2seq.text.vocab`."""

    def __init__(self, model_proto: bytes, lowercase: bool = True):
        self.model_proto = model_proto
        self.lowercase = lowercase
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        if [self.sp.id_to_piece(i) for i in range(SEP_ID + 1)] != [PAD, UNK, BOS, EOS, SEP]:
            raise ValueError("subword model: the first pieces must be the special tokens of seq2seq.text.vocab")

    @classmethod
    def train(cls, texts: Iterable[str], settings: SubwordSettings = SubwordSettings()) -> SubwordTokenizer:
        """Learn the pieces from `texts` in this process (nothing is downloaded)."""
        normalised = [t for t in (normalise(x, settings.lowercase) for x in texts) if t]
        if not normalised:
            raise ValueError("no text to train the subword model on")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(normalised),
            model_writer=model,
            vocab_size=settings.vocab_size,
            model_type=settings.model_type,
            byte_fallback=True,
            character_coverage=0.9995,  # characters rarer than this are spelled in bytes
            normalization_rule_name="identity",  # `normalise` already did all of it, so decoding inverts it
            remove_extra_whitespaces=False,
            split_digits=True,  # numbers are open-ended: spell them digit by digit
            pad_id=PAD_ID,
            unk_id=UNK_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
            pad_piece=PAD,
            unk_piece=UNK,
            bos_piece=BOS,
            eos_piece=EOS,
            control_symbols=[SEP],  # only ever inserted by id: typing "<sep>" spells it out
            user_defined_symbols=list(SYMBOLS),
            input_sentence_size=settings.max_sentences,
            shuffle_input_sentence=True,
            seed_sentencepiece_size=settings.seed_sentencepiece_size,
            hard_vocab_limit=False,  # a small corpus may not fill the vocabulary; take what it has
            num_threads=1,  # the same texts give the same pieces
            minloglevel=2,
        )
        return cls(model.getvalue(), settings.lowercase)

    @classmethod
    def load(cls, folder: Path | str) -> SubwordTokenizer:
        folder = Path(folder)
        settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
        if settings.get("format") != FORMAT:
            raise ValueError(f"{folder / SETTINGS_FILE}: unknown format {settings.get('format')!r}")
        return cls((folder / MODEL_FILE).read_bytes(), bool(settings["lowercase"]))

    def save(self, folder: Path | str) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MODEL_FILE).write_bytes(self.model_proto)
        (folder / SETTINGS_FILE).write_text(json.dumps({"format": FORMAT, "lowercase": self.lowercase}) + "\n")

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    @property
    def pieces(self) -> list[str]:
        """Every piece by id: the vocabulary an inference engine registers."""
        return [self.sp.id_to_piece(i) for i in range(len(self))]

    def normalise(self, text: str) -> str:
        return normalise(text, self.lowercase)

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(self.normalise(text))

    def encode_pieces(self, text: str) -> list[str]:
        return self.sp.encode(self.normalise(text), out_type=str)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of the ids up to the first EOS; special pieces say nothing."""
        kept = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i > SEP_ID:
                kept.append(i)
        return self.sp.decode(kept)

    def decode_pieces(self, pieces: Iterable[str]) -> str:
        return self.decode(self.sp.piece_to_id(p) for p in pieces)

    def encode_source(self, turns: list[str], max_len: int, context_turns: int, tag: bool = False) -> list[int]:
        """Up to `context_turns` previous turns, each followed by SEP, then the message (the last turn);
        the oldest pieces are dropped first. `tag`: SERVER_TAG_ID first, for a server's own conversations."""
        *context, message = turns or [""]
        context = [t for t in context if t.strip()][-context_turns:] if context_turns else []
        ids: list[int] = []
        for turn in context:
            ids += self.encode(turn) + [SEP_ID]
        ids += self.encode(message)
        return server_tagged(ids, max_len) if tag else ids[-max_len:]

    def encode_target(self, reply: str, max_len: int) -> list[int]:
        """The reply's first `max_len` pieces, then EOS."""
        return self.encode(reply)[:max_len] + [EOS_ID]


def opens_word(piece: str) -> bool:
    """Whether a piece starts a word: SentencePiece marks a word's first piece with "▁"; special pieces (EOS,
    padding) and punctuation stand alone, so "glorpy!" is the word "glorpy" and "!"; a byte piece is inside
    whatever character it spells."""
    if piece.startswith("<0x"):
        return False
    special = piece.startswith("<") and piece.endswith(">") and len(piece) > 2
    return piece.startswith(_SPACE_MARK) or special or not any(c.isalnum() for c in piece)


def word_spans(opens: Sequence[bool]) -> list[tuple[int, int]]:
    """(start, end) of each word of a row of pieces, given whether each piece opens one (`opens_word`); the first
    piece always does."""
    starts = [i for i, flag in enumerate(opens) if flag or i == 0]
    return list(zip(starts, starts[1:] + [len(opens)], strict=True))


def server_tagged(ids: list[int], max_len: int) -> list[int]:
    """A source marked as the server's own: SERVER_TAG_ID, then its last `max_len - 1` pieces."""
    return [SERVER_TAG_ID, *ids[-(max_len - 1) :]]
