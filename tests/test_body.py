"""``BodyReader`` and ``BodyWriter`` on their own (http/af's lib/body.ml), as tables."""

from __future__ import annotations

from typing import Any

import pytest

from httpaf import (
    CHUNKED,
    CLOSE_DELIMITED,
    BodyLengthError,
    BodyReader,
    BodyWriter,
    Headers,
    Serializer,
    StateError,
)

# -- BodyReader -------------------------------------------------------------------------


class Log:
    """Records reader callbacks as ("read", bytes) / ("eof",)."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_read(self, data: memoryview) -> None:
        self.events.append(("read", bytes(data)))

    def on_eof(self) -> None:
        self.events.append(("eof",))

    def schedule(self, reader: BodyReader) -> None:
        reader.schedule_read(self.on_read, self.on_eof)


def apply(reader: BodyReader, log: Log, step: str) -> None:
    if step == "schedule":
        log.schedule(reader)
    elif step == "close":
        reader.close()
    elif step == "finish":
        reader.finish()
    elif step.startswith("feed:"):
        reader.feed(memoryview(step[5:].encode()))
    else:
        raise AssertionError(step)


READER_CASES = [
    # steps, events, (is_closed, is_complete, buffered)
    (["schedule"], [], (False, False, 0)),
    (["schedule", "feed:ab"], [("read", b"ab")], (False, False, 0)),
    (["feed:ab", "schedule"], [("read", b"ab")], (False, False, 0)),  # delivered at once
    (["feed:ab", "feed:cd", "schedule"], [("read", b"abcd")], (False, False, 0)),  # one piece
    (["feed:ab"], [], (False, False, 2)),
    (["finish", "schedule"], [("eof",)], (True, True, 0)),  # eof at once
    (["schedule", "finish"], [("eof",)], (True, True, 0)),
    (["feed:ab", "finish", "schedule"], [("read", b"ab")], (True, True, 0)),
    (["feed:ab", "finish", "schedule", "schedule"], [("read", b"ab"), ("eof",)], (True, True, 0)),
    (["schedule", "feed:ab", "feed:cd"], [("read", b"ab")], (False, False, 2)),  # one-shot
    (["feed:ab", "close", "schedule"], [("eof",)], (True, True, 0)),  # close discards
    (["schedule", "close"], [("eof",)], (True, True, 0)),  # close runs the pending read
    (["close", "feed:ab", "schedule"], [("eof",)], (True, True, 0)),  # later bytes dropped
    (["close", "close"], [], (True, True, 0)),
]


@pytest.mark.parametrize("steps, events, state", READER_CASES, ids=[" ".join(c[0]) for c in READER_CASES])
def test_reader_table(steps: list[str], events: list[tuple[Any, ...]], state: tuple[bool, bool, int]) -> None:
    reader = BodyReader()
    log = Log()
    for step in steps:
        apply(reader, log, step)
    assert log.events == events
    assert (reader.is_closed, reader.is_complete, reader.buffered_bytes) == state


def test_schedule_read_twice() -> None:
    reader = BodyReader()
    Log().schedule(reader)
    with pytest.raises(StateError, match="already scheduled"):
        Log().schedule(reader)


def test_schedule_again_from_on_read() -> None:
    reader = BodyReader()
    got: list[bytes] = []

    def on_read(data: memoryview) -> None:
        got.append(bytes(data))
        reader.schedule_read(on_read, lambda: got.append(b"<eof>"))

    reader.schedule_read(on_read, lambda: got.append(b"<eof>"))
    reader.feed(memoryview(b"a"))
    reader.feed(memoryview(b"b"))
    reader.finish()
    assert got == [b"a", b"b", b"<eof>"]


def test_feed_to_pending_read_is_zero_copy() -> None:
    reader = BodyReader()
    seen: list[memoryview] = []
    reader.schedule_read(seen.append, lambda: None)
    source = memoryview(bytearray(b"data"))
    reader.feed(source)
    assert seen[0].obj is source.obj


def test_buffered_bytes_are_copied() -> None:
    reader = BodyReader()
    source = bytearray(b"data")
    reader.feed(memoryview(source))
    source[:] = b"XXXX"  # the runtime reuses its buffer
    log = Log()
    log.schedule(reader)
    assert log.events == [("read", b"data")]


def test_trailers() -> None:
    reader = BodyReader()
    assert reader.trailers is None
    trailers = Headers([("X-Checksum", "abc")])
    reader.finish(trailers)
    assert reader.trailers == trailers and reader.at_eof


def test_at_eof_is_not_close() -> None:
    reader = BodyReader()
    reader.close()
    assert reader.is_complete and not reader.at_eof


def test_empty_reader() -> None:
    reader = BodyReader.empty()
    assert reader.is_closed and reader.is_complete and reader.at_eof
    log = Log()
    log.schedule(reader)
    log.schedule(reader)  # nothing stays scheduled: no StateError
    assert log.events == [("eof",), ("eof",)]


def test_reader_hooks() -> None:
    calls: list[str] = []
    reader = BodyReader(lambda: calls.append("schedule"), lambda: calls.append("first"))
    Log().schedule(reader)
    assert calls == ["first", "schedule"]  # first read, then "may resume reading"
    reader.feed(memoryview(b"x"))
    reader.feed(memoryview(b"y"))
    Log().schedule(reader)  # buffered data taken: reading may resume too
    assert calls == ["first", "schedule", "schedule"]


# -- BodyWriter -------------------------------------------------------------------------


class Sink:
    """A serializer whose writer wakeup is counted, and a body writer into it."""

    def __init__(self, length: int, discard: bool = False) -> None:
        self.serializer = Serializer(64)
        self.serializer.waiter = self._wake
        self.wakes = 0
        self.closed: list[bool] = []
        self.writer = BodyWriter(self.serializer, length, self.closed.append, discard)

    def _wake(self) -> None:
        self.wakes += 1
        self.serializer.waiter = self._wake  # a writer waits again after each wakeup

    def output(self) -> bytes:
        data = b"".join(bytes(v) for v in self.serializer.operation())
        self.serializer.shift(len(data))
        return data


def do(writer: BodyWriter, step: Any) -> None:
    if step == "close":
        writer.close()
    elif isinstance(step, tuple) and step[0] == "close":
        writer.close(Headers(step[1]))
    elif isinstance(step, tuple) and step[0] == "schedule":
        writer.schedule(step[1])
    else:
        writer.write(step)


WRITER_CASES = [
    # id, length, discard, steps, output, delimited (None: not closed)
    ("fixed exact", 5, False, [b"abc", b"de", "close"], b"abcde", True),
    ("fixed short", 5, False, [b"abc", "close"], b"abc", False),
    ("fixed zero", 0, False, ["close"], b"", True),
    ("fixed empty writes", 2, False, [b"", b"ab", b"", "close"], b"ab", True),
    ("fixed scheduled", 3, False, [("schedule", b"abc"), "close"], b"abc", True),
    ("chunked per write", CHUNKED, False, [b"abc", b"de", "close"], b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", True),
    ("chunked empty write", CHUNKED, False, [b"", "close"], b"0\r\n\r\n", True),
    ("chunked long", CHUNKED, False, [b"x" * 300, "close"], b"12c\r\n" + b"x" * 300 + b"\r\n0\r\n\r\n", True),
    ("chunked scheduled", CHUNKED, False, [("schedule", b"abc"), "close"], b"3\r\nabc\r\n0\r\n\r\n", True),
    (
        "chunked trailers",
        CHUNKED,
        False,
        [b"abc", ("close", [("X-Sum", "1"), ("X-Other", "two")])],
        b"3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Other: two\r\n\r\n",
        True,
    ),
    ("close-delimited", CLOSE_DELIMITED, False, [b"abc", "close"], b"abc", False),
    ("discard", 0, True, [b"abc", ("schedule", b"de"), "close"], b"", True),
    ("discard trailers", 0, True, [("close", [("X-Sum", "1")])], b"", True),
    ("not closed", 5, False, [b"ab"], b"ab", None),
]


@pytest.mark.parametrize(
    "length, discard, steps, output, delimited",
    [c[1:] for c in WRITER_CASES],
    ids=[c[0] for c in WRITER_CASES],
)
def test_writer_table(length: int, discard: bool, steps: list[Any], output: bytes, delimited: bool | None) -> None:
    sink = Sink(length, discard)
    for step in steps:
        do(sink.writer, step)
    assert sink.output() == output
    assert sink.closed == ([] if delimited is None else [delimited])
    assert sink.writer.is_closed == (delimited is not None)


WRITER_ERRORS = [
    # id, length, steps, error, output so far
    ("beyond Content-Length", 3, [b"ab", b"cd"], BodyLengthError, b"ab"),
    ("beyond Content-Length at once", 3, [b"abcd"], BodyLengthError, b""),
    ("scheduled beyond", 1, [("schedule", b"ab")], BodyLengthError, b""),
    ("write after close", 3, ["close", b"a"], StateError, b""),
    ("trailers on fixed", 3, [b"abc", ("close", [("X", "1")])], StateError, b"abc"),
    ("CR in trailer", CHUNKED, [("close", [("X", "a\r\nInjected: 1")])], ValueError, b""),
    ("bad trailer name", CHUNKED, [("close", [("X Y", "1")])], ValueError, b""),
]


@pytest.mark.parametrize(
    "length, steps, error, output", [c[1:] for c in WRITER_ERRORS], ids=[c[0] for c in WRITER_ERRORS]
)
def test_writer_errors(length: int, steps: list[Any], error: type, output: bytes) -> None:
    sink = Sink(length)
    with pytest.raises(error):
        for step in steps:
            do(sink.writer, step)
    assert sink.output() == output


def test_write_does_not_wake_flush_and_close_do() -> None:
    sink = Sink(CHUNKED)
    sink.writer.write(b"a")
    assert sink.wakes == 0
    sink.writer.flush()
    assert sink.wakes == 1
    sink.writer.close()
    assert sink.wakes == 2
    sink.writer.close()  # a second close is a no-op
    assert sink.wakes == 2 and sink.closed == [True]


def test_flush_callback_runs_once_written() -> None:
    sink = Sink(CHUNKED)
    flushed: list[int] = []
    sink.writer.write(b"abc")
    sink.writer.flush(lambda: flushed.append(1))
    assert flushed == []
    data = b"".join(bytes(v) for v in sink.serializer.operation())
    sink.serializer.shift(len(data) - 1)
    assert flushed == []
    sink.serializer.shift(1)
    assert flushed == [1]


def test_flush_with_nothing_pending_runs_at_once() -> None:
    sink = Sink(5)
    flushed: list[int] = []
    sink.writer.flush(lambda: flushed.append(1))
    assert flushed == [1]


def test_schedule_is_zero_copy() -> None:
    sink = Sink(4)
    payload = bytearray(b"data")
    sink.writer.schedule(payload)
    assert any(v.obj is payload for v in sink.serializer.operation())


def test_abort_leaves_message_incomplete() -> None:
    sink = Sink(CHUNKED)
    sink.writer.write(b"abc")
    sink.writer.abort()
    assert sink.output() == b"3\r\nabc\r\n"  # no final chunk
    assert sink.closed == [False]
    assert sink.writer.is_closed
    sink.writer.close()  # already closed: nothing more
    assert sink.output() == b"" and sink.closed == [False]


def test_write_string() -> None:
    sink = Sink(CHUNKED)
    sink.writer.write_string("héllo")
    sink.writer.write_string("é", encoding="latin-1")
    assert sink.output() == b"6\r\nh\xc3\xa9llo\r\n1\r\n\xe9\r\n"
    assert sink.writer.is_chunked


def test_close_after_serializer_closed() -> None:
    """After the connection's writer closed, closing the body is harmless (#217)."""
    sink = Sink(CHUNKED)
    sink.serializer.close()
    with pytest.raises(StateError, match="cannot write to closed writer"):
        sink.writer.write(b"x")
    sink.writer.close()
    assert sink.writer.is_closed
    assert sink.closed == [False]  # no final chunk went out
    assert sink.output() == b""
