"""http/af's wrk benchmark server: a 2053-byte body sent zero-copy, on every path.

With ``--hello``, ``Hello, world!\\n`` as text/plain instead. Both keep connections
alive and answer any method and path.

    python examples/benchmark.py --port 8080
    wrk -t1 -c50 -d10s http://127.0.0.1:8080/
"""

from __future__ import annotations

from _cli import announce, parse_args

from httpaf import Reqd, Response
from httpaf.asyncio import run

# The opening of Alice in Wonderland, chapter I, as in http/af's benchmark (and
# cohttp #328): 2053 bytes.
TEXT = (
    b"CHAPTER I. Down the Rabbit-Hole  Alice was beginning to get very tired of sitting"
    b" by her sister on the bank, and of having nothing to do: once or twice she had "
    b"peeped into the book her sister was reading, but it had no pictures or "
    b"conversations in it, <and what is the use of a book,> thought Alice <without "
    b"pictures or conversations?> So she was considering in her own mind (as well as "
    b"she could, for the hot day made her feel very sleepy and stupid), whether the "
    b"pleasure of making a daisy-chain would be worth the trouble of getting up and "
    b"picking the daisies, when suddenly a White Rabbit with pink eyes ran close by "
    b"her. There was nothing so very remarkable in that; nor did Alice think it so "
    b"very much out of the way to hear the Rabbit say to itself, <Oh dear! Oh dear! I "
    b"shall be late!> (when she thought it over afterwards, it occurred to her that she "
    b"ought to have wondered at this, but at the time it all seemed quite natural); "
    b"but when the Rabbit actually took a watch out of its waistcoat-pocket, and looked"
    b" at it, and then hurried on, Alice started to her feet, for it flashed across "
    b"her mind that she had never before seen a rabbit with either a "
    b"waistcoat-pocket, or a watch to take out of it, and burning with curiosity, she "
    b"ran across the field after it, and fortunately was just in time to see it pop "
    b"down a large rabbit-hole under the hedge. In another moment down went Alice "
    b"after it, never once considering how in the world she was to get out again. The"
    b" rabbit-hole went straight on like a tunnel for some way, and then dipped "
    b"suddenly down, so suddenly that Alice had not a moment to think about stopping "
    b"herself before she found herself falling down a very deep well. Either the well "
    b"was very deep, or she fell very slowly, for she had plenty of time as she went "
    b"down to look about her and to wonder what was going to happen next. First, she "
    b"tried to look down and make out what she was coming to, but it was too dark to "
    b"see anything; then she looked at the sides of the well, and noticed that they "
    b"were filled with cupboards......"
)

HELLO = b"Hello, world!\n"


def make_handler(hello: bool):  # type: ignore[no-untyped-def]
    """The handler: one shared response head, one shared body, no per-request work."""
    body = HELLO if hello else TEXT
    headers = [("Content-Length", str(len(body)))]
    if hello:
        headers.insert(0, ("Content-Type", "text/plain"))
    response = Response(200, headers)

    def handler(reqd: Reqd) -> None:
        reqd.body.close()
        reqd.respond_with_bytes(response, body)

    return handler


def main() -> None:
    args = parse_args("http/af's benchmark server", hello="answer 'Hello, world!' instead")
    run(
        make_handler(args.hello),
        args.host,
        args.port,
        use_uvloop=False if args.no_uvloop else None,
        backlog=11000,
        ready=announce,
    )


if __name__ == "__main__":
    main()
