"""Text in, reply text out: the tokenizer, vocabulary, decoder and search of one model directory."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from seq2seq import model_dir
from seq2seq.antilm import anti_lm_step
from seq2seq.engine.decoding import DecodeOptions
from seq2seq.inference import NumpySeq2Seq
from seq2seq.protocol.blocklist import Blocklist
from seq2seq.search import SearchSpec, beam_search, greedy, sample, sample_and_rank
from seq2seq.text.vocab import BOS_ID, EOS_ID, PAD_ID, SEP_ID, UNK_ID
from seq2seq.text.words import URL_TOKEN, USER_TOKEN, detokenize
from seq2seq.train.batching import encode_source, pad_batch

FALLBACK_REPLY = "hmm?"  # said only if decoding produced no words at all, which the search forbids


class DecodeStopped(Exception):
    """Decoding was stopped between two steps because its caller asked (gone, or past a deadline)."""


def _stoppable(step, should_stop: Callable[[], bool]):
    """The search calls step once per token: checking there stops any strategy within one step."""

    def checked(tokens, beam_state, item_state):
        if should_stop():
            raise DecodeStopped("decoding stopped: its callers left or their deadline passed")
        return step(tokens, beam_state, item_state)

    return checked


class Replier:
    """Loads a model directory once and answers batches of conversations."""

    def __init__(self, bundle: model_dir.ModelBundle, blocklist: Blocklist | None = None):
        self.bundle = bundle
        self.config = bundle.config
        self.vocab = bundle.vocab
        self.network = NumpySeq2Seq(bundle.config, bundle.weights)
        blocklist = Blocklist.default() if blocklist is None else blocklist
        words = [self.vocab.id(t) for t in (URL_TOKEN, USER_TOKEN, *sorted(blocklist.words))]
        # Never emitted: padding, UNK, BOS, the separator, placeholders a reply cannot fill in,
        # and blocklisted words (banned in the search, so the model picks another word instead).
        self.banned = tuple(sorted({PAD_ID, UNK_ID, BOS_ID, SEP_ID, *[w for w in words if w != UNK_ID]}))

    @classmethod
    def load(cls, path: Path | str, blocklist: Blocklist | None = None) -> Replier:
        return cls(model_dir.load(Path(path)), blocklist)

    @property
    def path(self) -> Path:
        return self.bundle.path

    def encode(self, conversations: list[list[str]], openers: bool = False) -> np.ndarray:
        """Source ids. A message without an earlier turn is read as mid-conversation ("<sep> message"):
        in the corpus only a conversation's first message lacks one, so the model would answer it
        with a greeting. `openers=True` keeps the training form, for scoring held-out pairs."""
        sources = []
        for turns in conversations:
            turns = [t if isinstance(t, str) else "" for t in turns] or [""]
            ids = encode_source(
                self.vocab, turns[-1], turns[:-1], self.config.max_source_len, self.config.context_turns
            )
            if not openers and not any(t.strip() for t in turns[:-1]):
                ids = ([SEP_ID] + ids)[-self.config.max_source_len :]
            sources.append(np.asarray(ids or [SEP_ID], dtype=np.int32))
        return pad_batch(sources)

    def reply_ids(
        self,
        conversations: list[list[str]],
        options: DecodeOptions,
        openers: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[list[int]]:
        """`should_stop` is asked before every decoding step; once it says yes, DecodeStopped is raised."""
        source = self.encode(conversations, openers)
        states, item_state = self.network.encode(source)
        batch = len(conversations)
        spec = SearchSpec(
            bos=BOS_ID,
            eos=EOS_ID,
            banned=self.banned,
            max_len=options.max_len,
            min_len=options.min_len,
            beam_size=options.width,
            length_penalty=options.length_penalty,
            no_repeat_ngram=options.no_repeat_ngram,
        )
        if options.anti_lm > 0:
            step, beams, item_state = anti_lm_step(
                self.network, batch, spec.beam_size, options.anti_lm, options.anti_lm_steps, states, item_state
            )
        else:
            step, beams = self.network.step, self.network.initial_beams(states, spec.beam_size)
        if should_stop is not None:
            step = _stoppable(step, should_stop)
        rng = np.random.default_rng(options.seed)
        if options.strategy == "sample_rank":
            return sample_and_rank(
                step,
                beams,
                item_state,
                batch,
                spec,
                samples=spec.beam_size,
                temperature=options.temperature,
                top_k=options.top_k,
                top_p=options.top_p,
                rng=rng,
            )
        if options.strategy == "greedy":
            return greedy(step, beams, item_state, batch, spec)
        if options.strategy == "sample":
            return sample(
                step,
                beams,
                item_state,
                batch,
                spec,
                temperature=options.temperature,
                top_k=options.top_k,
                top_p=options.top_p,
                rng=rng,
            )
        ids, _ = beam_search(step, beams, item_state, batch, spec)
        return ids

    def reply_batch(
        self,
        conversations: list[list[str]],
        options: DecodeOptions | None = None,
        openers: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        """Each conversation is its turns, oldest first, ending with the message to answer."""
        options = options or DecodeOptions()
        replies = []
        for ids in self.reply_ids(conversations, options, openers, should_stop):
            text = detokenize(self.vocab.decode(ids))
            replies.append(text if text.strip() else FALLBACK_REPLY)
        return replies

    def reply(self, text: str, options: DecodeOptions | None = None, context: list[str] | None = None) -> str:
        return self.reply_batch([[*(context or []), text]], options)[0]

    def warm_up(self) -> float:
        """One reply through every code path; returns its seconds (used before a model goes live)."""
        start = time.perf_counter()
        self.reply_batch([["hello"], ["how are you?"]], DecodeOptions(max_len=4))
        return time.perf_counter() - start
