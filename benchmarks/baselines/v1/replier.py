"""v1's text in, reply text out: the word tokenizer, vocabulary, NumPy decoder and search of a v1 model directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.baselines.v1.antilm import anti_lm_step
from benchmarks.baselines.v1.encoding import encode_source
from benchmarks.baselines.v1.inference import NumpySeq2Seq
from benchmarks.baselines.v1.search import SearchSpec, beam_search, greedy, sample, sample_and_rank
from seq2seq import model_dir
from seq2seq.engine.decode import FALLBACK_REPLY
from seq2seq.engine.decoding import DecodeOptions
from seq2seq.protocol.blocklist import Blocklist
from seq2seq.text.vocab import BOS_ID, EOS_ID, PAD_ID, SEP_ID, UNK_ID
from seq2seq.text.words import URL_TOKEN, USER_TOKEN, detokenize
from seq2seq.train.batching import pad_batch


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
    ) -> list[list[int]]:
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
    ) -> list[str]:
        """Each conversation is its turns, oldest first, ending with the message to answer."""
        options = options or DecodeOptions()
        replies = []
        for ids in self.reply_ids(conversations, options, openers):
            text = detokenize(self.vocab.decode(ids))
            replies.append(text if text.strip() else FALLBACK_REPLY)
        return replies
