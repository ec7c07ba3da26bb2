"""Replies from an exported model (`engine.convert.export`) through CTranslate2, on the CPU or a CUDA GPU.

The engine searches (beam, greedy, sampling with top-k/top-p/temperature, n-gram blocking, a repetition
penalty, minimum length, the blocklist as suppressed piece sequences); this module ranks several hypotheses
with the engine's own scores, the MMI anti-LM and a penalty per content word said again, among them hypotheses
that open with a server word the conversation holds (`engine.copying`), and never returns an empty or blocklisted
reply.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import ctranslate2

from seq2seq.engine import copying
from seq2seq.engine.convert import read_config
from seq2seq.engine.device import default_compute_type, pick_device
from seq2seq.engine.options import EngineOptions
from seq2seq.protocol.blocklist import Blocklist
from seq2seq.text.replywords import content_repeats, words
from seq2seq.text.subword import SubwordTokenizer, server_tagged
from seq2seq.text.vocab import BOS, PAD, SEP, SEP_ID
from seq2seq.text.words import URL_TOKEN, USER_TOKEN


class DecodeStopped(Exception):
    """Decoding was stopped because its caller asked (gone, or past a deadline)."""


FALLBACK_REPLY = "hmm?"  # said only when every hypothesis was empty or blocked
# Pieces a reply never holds: padding, start, the separator, and placeholders a reply cannot fill in.
NEVER_SAID = (PAD, BOS, SEP, URL_TOKEN, USER_TOKEN)
# "Nothing was said": the anti-LM's source, as v1's `antilm.py` uses. Never server-tagged: the anti-LM stands for
# what is said anywhere, so a server's own words are not taken for stock lines.
NEUTRAL_SOURCE = [SEP]
SEEDED = threading.Lock()  # the seed new generators start from is process-wide: one seeded decode at a time


def rank_score(log_prob: float, anti_lm_log_prob: float, pieces: int, anti_lm: float, length_penalty: float) -> float:
    """MMI anti-LM (Li et al., 2016) divided by GNMT's length normalisation, as v1's sample-and-rank ranks:
    (log p(T | S) − λ · log p(T<γ | neutral)) / ((5 + n) / 6) ** α, n = reply pieces (at least 1)."""
    return (log_prob - anti_lm * anti_lm_log_prob) / ((5.0 + max(pieces, 1)) / 6.0) ** length_penalty


@dataclass(frozen=True)
class Candidate:
    text: str  # normalised text; custom emoji as `<:name:id>` (`subword.restore_custom_emoji`)
    pieces: tuple[str, ...]
    # NaN where nothing is ranked: one hypothesis (greedy, sample), or beam search without the anti-LM, whose
    # hypotheses keep the engine's own order.
    log_prob: float  # log p(T | S): Σ log p(piece | source), EOS included where the reply ended
    anti_lm_log_prob: float  # Σ log p(piece | neutral source) over the first anti_lm_steps pieces (EOS if shorter)
    score: float  # rank_score less content_repeat_penalty per content word said again: the best first


class Engine:
    """One loaded model: `reply_batch` answers conversations (turns oldest first, the message last)."""

    def __init__(
        self,
        folder: Path | str,
        device: str | None = None,
        compute_type: str | None = None,
        blocklist: Blocklist | None = None,  # None: the default list
        inter_threads: int = 1,
        intra_threads: int = 1,  # two intra-op threads were 5x slower at batch 1 on a 2-core CPU
        seed: int | None = None,  # sampling repeats call for call from a fresh engine with the same seed
    ):
        self.folder = Path(folder)
        self.seed, self.intra_threads = seed, intra_threads
        self.replicas = inter_threads  # CTranslate2 loads one model replica per inter-op thread
        self.config = read_config(self.folder)
        self.tokenizer = SubwordTokenizer.load(self.folder)
        self.device = pick_device(device)
        self.compute_type = compute_type or default_compute_type(self.device)
        if seed is not None:
            # Read once by each worker thread's generator, at its first draw: it must precede the translator.
            ctranslate2.set_random_seed(seed)
        self.translator = ctranslate2.Translator(
            str(self.folder),
            device=self.device,
            compute_type=self.compute_type,
            inter_threads=inter_threads,
            intra_threads=intra_threads,
        )
        self.blocklist = Blocklist.default() if blocklist is None else blocklist
        self.suppressed = suppressed_sequences(self.tokenizer, self.blocklist.entries)
        # A fine-tuned model's own words, to copy from conversations; never one the engine may not say.
        self.server_words = frozenset(
            w
            for w in copying.read_words(self.folder)
            if not set(w) & set(NEVER_SAID) and not self.blocklist.matches(self._text(list(w)))
        )

    def source_pieces(self, conversations: list[list[str]], openers: bool = False) -> list[list[str]]:
        """Each conversation as source pieces: context turns, separators, the message.

        A message without an earlier turn is read as mid-conversation ("<sep> message"): in the corpus
        only a conversation's first message lacks one, so the model would greet. `openers=True` keeps
        the training form, for scoring held-out pairs."""
        sp, cfg = self.tokenizer.sp, self.config
        sources = []
        for turns in conversations:
            turns = [t if isinstance(t, str) else "" for t in turns] or [""]
            ids = self.tokenizer.encode_source(turns, cfg.max_source_len, cfg.context_turns)
            if not openers and not any(t.strip() for t in turns[:-1]):
                ids = ([SEP_ID] + ids)[-cfg.max_source_len :]
            if cfg.server_tag:
                ids = server_tagged(ids, cfg.max_source_len)
            sources.append([sp.id_to_piece(i) for i in ids or [SEP_ID]])
        return sources

    def candidates(
        self, conversations: list[list[str]], options: EngineOptions, openers: bool = False
    ) -> list[list[Candidate]]:
        """Every distinct usable hypothesis per conversation, ranked best first (possibly none)."""
        ranked = self._ranked(conversations, options, openers, None)
        return [[c for c in (self._candidate(*r) for r in item) if c.text] for item in ranked]

    def reply_batch(
        self,
        conversations: list[list[str]],
        options: EngineOptions | None = None,
        openers: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        """`should_stop` is asked as decoding goes (every generated piece, where the engine's search calls back:
        not inside beam search, which a request's cost bounds); once it says yes, DecodeStopped is raised."""
        options = options or EngineOptions()
        replies = []
        for item in self._ranked(conversations, options, openers, should_stop):
            # Text is made best first, only as far as needed: mostly one decode and one blocklist check.
            replies.append(next((c.text for c in (self._candidate(*r) for r in item) if c.text), FALLBACK_REPLY))
        return replies

    def _ranked(self, conversations, options: EngineOptions, openers: bool, should_stop) -> list[list[tuple]]:
        """Per conversation, its distinct hypotheses best first, as (pieces, log_prob, anti_lm_log_prob, score)."""
        sources = self.source_pieces(conversations, openers)
        arguments = self._search_arguments(options)
        if should_stop is not None:
            _check(should_stop)
            if arguments["beam_size"] == 1:  # the engine calls back after each piece of greedy or sampled search
                arguments["callback"] = lambda _step: should_stop()
        results = self._search(sources, arguments, options)
        if should_stop is not None:
            _check(should_stop)  # a search cut short by the callback must not become replies
        ranking = options.hypotheses > 1 and (options.strategy == "sample_rank" or options.anti_lm > 0)
        # Sampling scores are the model's own log-probabilities (no temperature, no truncation; the search's
        # bans applied). Beam search without the anti-LM keeps the engine's order: nothing to score again.
        # Beam scores are length-normalised by the engine, and copies' cover only what follows their
        # prefix: NaN, scored again below.
        again = ranking and options.strategy == "beam"
        found = [_distinct(r.hypotheses, [math.nan] * len(r.hypotheses) if again else r.scores) for r in results]
        if ranking and options.copy_hypotheses > 0 and self.server_words:
            copies = self._copies(sources, arguments, options)
            # Unscored (NaN) and after the search's own: a copy the search also drew keeps the search's score.
            found = [
                _distinct([p for p, _ in item] + extra, [s for _, s in item] + [math.nan] * len(extra))
                for item, extra in zip(found, copies, strict=True)
            ]
            if should_stop is not None:
                _check(should_stop)
        flat = [(source, pieces, score) for source, item in zip(sources, found, strict=True) for pieces, score in item]
        log_probs = [f[2] for f in flat]
        redo = [i for i, lp in enumerate(log_probs) if math.isnan(lp)] if ranking else []
        for i, lp in zip(redo, self._log_probs([flat[i][0] for i in redo], [flat[i][1] for i in redo]), strict=True):
            log_probs[i] = sum(lp)
        anti = [0.0] * len(flat)
        if ranking and options.anti_lm > 0:
            # Only the first γ pieces count: scoring those alone is a fraction of the cost of whole replies.
            steps = options.anti_lm_steps
            heads = self._log_probs([NEUTRAL_SOURCE] * len(flat), [f[1][:steps] for f in flat])
            anti = [sum(lp[:steps]) for lp in heads]
        repeats = [0] * len(flat)
        if ranking and options.content_repeat_penalty > 0:
            # Counted as the reply-quality benchmark counts them (v1's words, the stop words of `metrics`).
            repeats = [content_repeats(words(self._text(f[1]))) for f in flat]
        at, out = 0, []
        for item in found:
            ranked = []
            for pieces, _ in item:
                if ranking:
                    score = rank_score(log_probs[at], anti[at], len(pieces), options.anti_lm, options.length_penalty)
                    score -= options.content_repeat_penalty * repeats[at]
                    ranked.append((pieces, log_probs[at], anti[at], score))
                else:
                    ranked.append((pieces, math.nan, math.nan, math.nan))
                at += 1
            if ranking:
                ranked.sort(key=lambda r: -r[3])
            out.append(ranked)
        return out

    def _search(self, sources: list[list[str]], arguments: dict, options: EngineOptions, prefixes=None) -> list:
        """The engine's search over `sources` (each reply opening with its `prefixes` entry, where given)."""
        if options.seed is not None and options.strategy in ("sample", "sample_rank"):
            return self._seeded(sources, arguments, options.seed, prefixes)
        return self.translator.translate_batch(sources, prefixes, max_batch_size=self._slice(len(sources)), **arguments)

    def _copies(self, sources: list[list[str]], arguments: dict, options: EngineOptions) -> list[list[list[str]]]:
        """Per source, `copy_hypotheses` replies opening with each server word it holds (`copying.words_in`)."""
        jobs = [(at, word) for at, source in enumerate(sources) for word in copying.words_in(source, self.server_words)]
        out: list[list[list[str]]] = [[] for _ in sources]
        if jobs:
            # At most the search's own count: beam search returns at most its beams, greedy search one.
            hypotheses = min(options.copy_hypotheses, arguments["num_hypotheses"])
            results = self._search(
                [sources[at] for at, _ in jobs],
                {**arguments, "num_hypotheses": hypotheses},
                options,
                [list(word) for _, word in jobs],
            )
            for (at, _), result in zip(jobs, results, strict=True):
                out[at] += [list(h) for h in result.hypotheses]
        return out

    def _seeded(self, sources: list[list[str]], arguments: dict, seed: int, prefixes=None) -> list:
        """Each source sampled by a fresh one-thread replica whose generator starts from `seed` (a generator is
        seeded when its thread first samples), so a conversation's draws never depend on its batch."""
        results = []
        with SEEDED:
            try:
                for at, source in enumerate(sources):
                    ctranslate2.set_random_seed(seed)
                    replica = ctranslate2.Translator(
                        str(self.folder),
                        device=self.device,
                        compute_type=self.compute_type,
                        intra_threads=self.intra_threads,
                    )
                    results += replica.translate_batch([source], [prefixes[at]] if prefixes else None, **arguments)
                    del replica
            finally:  # threads that have not sampled yet start from the engine's seed again, or a random one
                ctranslate2.set_random_seed(self.seed if self.seed is not None else random.getrandbits(32))
        return results

    def _candidate(self, pieces, log_prob, anti_lm_log_prob, score) -> Candidate:
        """The hypothesis as text; "" when it says nothing printable or holds a blocked word."""
        text = self._text(pieces)
        usable = text and not self.blocklist.matches(text)
        return Candidate(text if usable else "", tuple(pieces), log_prob, anti_lm_log_prob, score)

    def reply(self, text: str, options: EngineOptions | None = None, context: list[str] | None = None) -> str:
        return self.reply_batch([[*(context or []), text]], options)[0]

    def score(
        self, conversations: list[list[str]], replies: list[str], openers: bool = True, whole: bool = False
    ) -> list[list[float]]:
        """log p of each reply piece and the closing EOS, for evaluation: the reply cut to max_target_len as in
        training, or `whole` (as far as the position table reaches: positions - 1 pieces)."""
        sp = self.tokenizer.sp
        limit = self.config.positions - 1 if whole else self.config.max_target_len
        targets = [[sp.id_to_piece(i) for i in self.tokenizer.encode(r)[:limit]] for r in replies]
        return self._log_probs(self.source_pieces(conversations, openers), targets)

    def _search_arguments(self, options: EngineOptions) -> dict:
        # The position table bounds a reply: its last row is the EOS's.
        max_len = min(options.max_len, self.config.positions - 1)
        arguments = dict(
            max_decoding_length=max_len,
            min_decoding_length=min(options.min_len, max_len),
            no_repeat_ngram_size=options.no_repeat_ngram,
            repetition_penalty=options.repetition_penalty,
            length_penalty=options.length_penalty,
            disable_unk=True,
            suppress_sequences=self.suppressed,
            max_input_length=0,  # `source_pieces` cut the sources already
            num_hypotheses=options.hypotheses,
            beam_size=options.beam_size if options.strategy == "beam" else 1,
            return_scores=True,
        )
        if options.strategy in ("sample", "sample_rank"):
            arguments.update(
                # 0: the whole vocabulary, which is also what a k past its size means (CTranslate2 refuses those)
                sampling_topk=options.top_k if options.top_k < self.config.vocab_size else 0,
                # top_p is float32 in CTranslate2: 5e-324 is 0 there and refused; a tiny top_p keeps the likeliest piece
                sampling_topp=max(options.top_p, 1e-6),
                sampling_temperature=options.temperature,
                length_penalty=0.0,  # scores as plain sums of log-probabilities, normalised in rank_score
            )
            if options.top_k == 1:  # always the likeliest piece: CTranslate2 runs greedy search, one hypothesis
                arguments["num_hypotheses"] = 1
        return arguments

    def _log_probs(self, sources: list[list[str]], targets: list[list[str]]) -> list[list[float]]:
        if not targets:
            return []
        # max_input_length=0: sources are cut already, and the limit would cut the targets being scored too.
        results = self.translator.score_batch(
            sources, targets, max_batch_size=self._slice(len(sources)), max_input_length=0
        )
        return [list(r.log_probs) for r in results]

    def _slice(self, items: int) -> int:
        """max_batch_size that cuts a batch into one slice per replica: without it CTranslate2 gives a whole batch
        to one replica and the other cores wait. Results come back in the batch's order (0: no cut)."""
        return 0 if self.replicas == 1 else -(-items // self.replicas)

    def _text(self, pieces: list[str]) -> str:
        # Bytes that do not form a whole character decode to U+FFFD: drop them rather than send "�";
        # normalising drops control characters that byte pieces can spell.
        return self.tokenizer.normalise(self.tokenizer.decode_pieces(pieces).replace("\ufffd", " "))


def _check(should_stop: Callable[[], bool]) -> None:
    if should_stop():
        raise DecodeStopped("decoding stopped: its callers left or their deadline passed")


def _distinct(hypotheses: list[list[str]], scores: list[float]) -> list[tuple[list[str], float]]:
    seen: set[tuple[str, ...]] = set()
    out = []
    for pieces, score in zip(hypotheses, scores, strict=True):
        if tuple(pieces) not in seen:
            seen.add(tuple(pieces))
            out.append((list(pieces), float(score)))
    return out


def suppressed_sequences(tokenizer: SubwordTokenizer, entries: Iterable[str]) -> list[list[str]]:
    """Piece sequences the engine must never emit: `NEVER_SAID`, and each blocked word or phrase as it starts
    a word, in every casing the tokenizer keeps apart (one, when it lower-cases). Other spellings (glued to
    punctuation, split unusually) are caught on the decoded text by `Blocklist.matches`.

    A ban is on a piece sequence, not a whole word: a word whose usual pieces begin with a blocked word's
    ("▁ass" "ume") is steered to another spelling of itself. Subwords make phrases bannable too."""
    sequences = {(piece,) for piece in NEVER_SAID}
    for word in entries:
        for variant in {word, word.capitalize(), word.upper()}:
            pieces = tokenizer.encode_pieces(variant)
            if pieces:
                sequences.add(tuple(pieces))
    return [list(s) for s in sorted(sequences)]
