"""MMI-antiLM decoding: the same search when its weight is 0, fewer generic replies when it is not."""

import numpy as np

from benchmarks.baselines.v1.antilm import anti_lm_step
from benchmarks.baselines.v1.replier import Replier
from benchmarks.baselines.v1.search import SearchSpec, beam_search
from seq2seq.engine.decoding import DecodeOptions
from seq2seq.text import corpus
from seq2seq.text.vocab import BOS_ID, EOS_ID


def test_zero_weight_reproduces_plain_beam_search(tiny_v1_model_dir):
    replier = Replier.load(tiny_v1_model_dir)
    net = replier.network
    source = replier.encode([["hi there"], ["do you like music?"], [""]])
    states, items = net.encode(source)
    spec = SearchSpec(bos=BOS_ID, eos=EOS_ID, banned=replier.banned, beam_size=3)
    plain, plain_scores = beam_search(net.step, net.initial_beams(states, 3), items, 3, spec)
    step, beams, both_items = anti_lm_step(net, 3, 3, 0.0, 3, states, items)
    wrapped, wrapped_scores = beam_search(step, beams, both_items, 3, spec)
    assert wrapped == plain
    np.testing.assert_allclose(wrapped_scores, plain_scores, rtol=1e-5)


def test_anti_lm_makes_replies_less_alike(tiny_v1_model_dir):
    replier = Replier.load(tiny_v1_model_dir)
    prompts = [[p.query] for p in corpus.chitchat_pairs()[2000:2030]]
    plain = replier.reply_batch(prompts, DecodeOptions(strategy="beam", anti_lm=0.0))
    mmi = replier.reply_batch(prompts, DecodeOptions(strategy="beam", anti_lm=0.8, anti_lm_steps=5))
    assert len(set(mmi)) > len(set(plain))
