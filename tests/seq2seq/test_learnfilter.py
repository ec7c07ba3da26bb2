"""Learning filters: what a fine-tune may learn, and why the rest was dropped."""

from seq2seq.corpus import Pair
from seq2seq.learnfilter import FilterConfig, build_blocklist, contains_blocked, filter_pairs


def pair(query, reply, author="", group="g"):
    return Pair(query, reply, "", group, author)


def test_each_filter_names_its_reason():
    cfg = FilterConfig(blocklist=frozenset({"badword"}))
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


def test_one_user_cannot_flood_a_fine_tune():
    troll = [pair(f"question {i}", f"answer number {i}", author="troll") for i in range(300)]
    others = [pair(f"hey {i}", f"hello friend {i}", author=f"user{i % 40}") for i in range(1000)]
    report = filter_pairs(troll + others, FilterConfig(blocklist=frozenset()))
    from_troll = sum(1 for p in report.kept if p.author == "troll")
    assert from_troll <= 0.10 * 1300
    assert report.dropped["user_share"] == 300 - from_troll


def test_the_same_reply_is_learned_at_most_twice():
    spam = [pair(f"prompt {i}", "the same abusive line") for i in range(50)]
    report = filter_pairs(spam, FilterConfig(blocklist=frozenset()))
    assert len(report.kept) == 2 and report.dropped["repeated_reply"] == 48


def test_default_blocklist_blocks_profanity_but_not_everyday_words():
    blocklist = build_blocklist(["customword"])
    assert contains_blocked("what the FUCK", blocklist)
    assert contains_blocked("a customword here", blocklist)
    assert not contains_blocked("hell yeah, i'm killing time with a beer", blocklist)
