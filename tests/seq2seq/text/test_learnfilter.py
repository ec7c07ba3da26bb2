"""Learning filters: what a fine-tune may learn, and why the rest was dropped."""

from seq2seq.protocol.blocklist import Blocklist
from seq2seq.text.corpus import Pair
from seq2seq.text.learnfilter import FilterConfig, filter_pairs


def pair(query, reply, group="g"):
    return Pair(query, reply, "", group)


def test_each_filter_names_its_reason():
    cfg = FilterConfig(blocklist=Blocklist(["badword"]))
    pairs = [
        pair("hi", "x"),  # too short
        pair("hi there", "y" * 400),  # too long
        pair("see https://x.io", "nice link"),
        pair("run `rm -rf`", "ok"),
        pair("hey <@123>", "hello"),
        pair("you badword", "no you"),
        pair("hello there", "hi friend"),
        pair("hello there", "hi friend"),  # duplicate
    ]
    report = filter_pairs(pairs, cfg)
    assert [p.reply for p in report.kept] == ["hi friend"]
    assert report.dropped == {
        "too_short": 1,
        "too_long": 1,
        "link": 1,
        "code": 1,
        "mention": 1,
        "blocklist": 1,
        "duplicate": 1,
    }


def test_the_same_reply_is_learned_at_most_twice():
    spam = [pair(f"prompt {i}", "the same abusive line") for i in range(50)]
    report = filter_pairs(spam, FilterConfig(blocklist=Blocklist()))
    assert len(report.kept) == 2 and report.dropped["repeated_reply"] == 48


def test_the_default_config_uses_the_default_blocklist():
    report = filter_pairs([pair("what the FUCK", "calm down"), pair("hell yeah", "a beer then")], FilterConfig())
    assert [p.query for p in report.kept] == ["hell yeah"] and report.dropped == {"blocklist": 1}
