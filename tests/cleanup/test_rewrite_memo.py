"""Remembered address rewrites: the same answers, and never with a table."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from mailflow.cleanup import CleanupPipeline
from mailflow.config import Config
from mailflow.model import Envelope, Message, Recipient
from mailflow.tables.memory import MemoryTable
from mailflow.tables.registry import register_table_type

CFG = dict(myhostname="mx.example.test", mydomain="example.test", myorigin="example.test")

addresses = st.sampled_from(["joe", "joe@mx", "Joe@Example.TEST", "ann@remote.example",
                             "\"odd one\"@x.example", "bob@[127.0.0.1]", "x@y@z", "@"])


def _message(sender: str, to: str) -> tuple[Envelope, Message]:
    body = f"From: {sender}\nTo: {to}\nCc: joe, {to}\nSubject: s\n\nhi\n".encode()
    return Envelope(sender, [Recipient(to)]), Message(body)


def _run(pipeline: CleanupPipeline, sender: str, to: str):
    env, msg = _message(sender, to)
    result = pipeline.process(env, msg, origin="sendmail", now=1e9, queue_id="4jk1ZQ5w8yzRlxnrtK")
    return result.envelope.sender, [r.address for r in result.envelope.recipients], \
        result.message.header_bytes


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(addresses, addresses), min_size=1, max_size=6))
def test_a_remembering_pipeline_answers_as_a_fresh_one(pairs):
    kept = CleanupPipeline.from_config(Config(**CFG))
    for sender, to in pairs:
        assert _run(kept, sender, to) == _run(CleanupPipeline.from_config(Config(**CFG)), sender, to)


def test_a_static_pipeline_remembers_and_a_table_turns_it_off():
    static = CleanupPipeline.from_config(Config(**CFG))
    _run(static, "joe", "ann@remote.example")
    assert static._memo

    mapping = {"joe@example.test": "joseph@example.test"}
    register_table_type("memotest", lambda name, cfg: MemoryTable(mapping))
    live = CleanupPipeline.from_config(Config(**CFG, canonical_maps="memotest:live"))
    assert live._memo is None
    assert _run(live, "joe", "ann@remote.example")[0] == "joseph@example.test"
    mapping["joe@example.test"] = "jo@example.test"
    # The table's new answer is used at once.
    assert _run(live, "joe", "ann@remote.example")[0] == "jo@example.test"


def test_the_memo_stays_bounded():
    pipeline = CleanupPipeline.from_config(Config(**CFG))
    for n in range(5000):
        pipeline.rewrite_recipient(f"user{n}")
    assert len(pipeline._memo) <= 4096
