"""Write the seed corpus: ``tests/fuzz/corpus/{request,response,chunked}/<name>``.

Valid messages, and one seed per attack class of reference/peers.md §5.x (items 1-15,
18), in the harness's input format (``harness.encode``: a flags byte, read boundaries,
the bytes). Run it again after changing the seeds; the files are committed.
"""

from __future__ import annotations

import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(os.path.dirname(HERE))]

from harness import encode  # noqa: E402

H = b"Host: h"


def req(*lines: bytes, line: bytes = b"GET / HTTP/1.1", body: bytes = b"") -> bytes:
    return line + b"\r\n" + b"".join(x + b"\r\n" for x in lines) + b"\r\n" + body


def chunked_req(body: bytes, *lines: bytes) -> bytes:
    return req(H, b"Transfer-Encoding: chunked", *lines, line=b"POST / HTTP/1.1", body=body)


REQUESTS = {
    # valid
    "get": req(H),
    "get_keepalive_pipeline": req(H) + req(H, line=b"GET /2 HTTP/1.1"),
    "post_length": req(H, b"Content-Length: 5", line=b"POST /p?q=1 HTTP/1.1", body=b"hello"),
    "post_chunked_trailers": chunked_req(b"5;ext=1\r\nhello\r\n0\r\nX-T: v\r\n\r\n"),
    "http10_keepalive": req(b"Connection: keep-alive", line=b"GET / HTTP/1.0"),
    "options_star": req(H, line=b"OPTIONS * HTTP/1.1"),
    "connect_authority": req(H, line=b"CONNECT example.com:443 HTTP/1.1"),
    "absolute_form": req(H, line=b"GET http://example.com/x HTTP/1.1"),
    "expect_continue": req(H, b"Expect: 100-continue", b"Content-Length: 3",
                           line=b"PUT / HTTP/1.1", body=b"abc"),
    "upgrade": req(H, b"Connection: Upgrade", b"Upgrade: websocket"),
    "leading_crlf": b"\r\n" + req(H),
    # 1. CL + TE
    "cl_te": chunked_req(b"0\r\n\r\n", b"Content-Length: 5"),
    # 2. repeated CL, list form
    "cl_twice": req(H, b"Content-Length: 1", b"Content-Length: 1", line=b"POST / HTTP/1.1",
                    body=b"a"),
    "cl_list": req(H, b"Content-Length: 5, 5", line=b"POST / HTTP/1.1", body=b"hello"),
    # 3. CL forms
    "cl_plus": req(H, b"Content-Length: +5", line=b"POST / HTTP/1.1", body=b"hello"),
    "cl_hex": req(H, b"Content-Length: 0x5", line=b"POST / HTTP/1.1", body=b"hello"),
    "cl_unicode_digit": req(H, "Content-Length: \uff15".encode(), line=b"POST / HTTP/1.1"),
    "cl_huge": req(H, b"Content-Length: " + b"9" * 40, line=b"POST / HTTP/1.1"),
    # 4. TE values
    "te_not_last": req(H, b"Transfer-Encoding: chunked, gzip", line=b"POST / HTTP/1.1"),
    "te_twice": req(H, b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked",
                    line=b"POST / HTTP/1.1", body=b"0\r\n\r\n"),
    "te_xchunked": req(H, b"Transfer-Encoding: xchunked", line=b"POST / HTTP/1.1"),
    "te_identity": req(H, b"Transfer-Encoding: identity", line=b"POST / HTTP/1.1"),
    "te_empty_coding": req(H, b"Transfer-Encoding: ,chunked", line=b"POST / HTTP/1.1"),
    # 5. whitespace other than SP/HTAB, obs-fold
    "te_obs_fold": req(H, b"Transfer-Encoding:", b" chunked", line=b"POST / HTTP/1.1"),
    "te_vt": req(H, b"Transfer-Encoding: \x0bchunked", line=b"POST / HTTP/1.1"),
    "te_nbsp_name": req(H, b"Transfer-Encoding\xa0: chunked", line=b"POST / HTTP/1.1"),
    # 6. chunked on 1.0
    "te_http10": req(b"Transfer-Encoding: chunked", line=b"POST / HTTP/1.0", body=b"0\r\n\r\n"),
    # 7. line endings
    "bare_lf": b"GET / HTTP/1.1\nHost: h\n\n",
    "bare_cr_value": req(H, b"X-Abc: \rxTransfer-Encoding: chunked"),
    "cr_lf_cr_x": b"GET / HTTP/1.1\r\nHost: h\r\n\rX",
    # 8. field names
    "space_before_colon": req(H, b"Transfer-Encoding : chunked", line=b"POST / HTTP/1.1"),
    "empty_name": req(H, b": v"),
    "name_question": req(H, b"Content-Encoding?: chunked"),
    "name_underscore": req(H, b"Content_Length: 5"),
    # 9. values
    "nul_value": req(H, b"X: a\x00b"),
    "bel_value": req(H, b"X: a\x07b"),
    "del_value": req(H, b"X: a\x7fb"),
    # 10. start line
    "method_lower": req(H, line=b"get / HTTP/1.1"),
    "method_hash": req(H, line=b"G#T / HTTP/1.1"),
    "version_unicode": req(H, line="GET / HTTP/1\u00f61".encode()),
    "version_20": req(H, line=b"GET / HTTP/2.0"),
    "version_09": req(H, line=b"GET / HTTP/0.9"),
    "version_noslash": req(H, line=b"GET / HTTP1.1"),
    "two_spaces": req(H, line=b"GET  / HTTP/1.1"),
    "trailing_space": req(H, line=b"GET / HTTP/1.1 "),
    "asterisk_get": req(H, line=b"GET * HTTP/1.1"),
    "authority_get": req(H, line=b"GET example.com:80 HTTP/1.1"),
    # 15. garbage after Connection: close
    "close_then_garbage": req(H, b"Connection: close") + b"\x00\x01garbage\r\n\r\n",
    # 18. limits
    "many_headers": req(H, *[b"X-%d: v" % i for i in range(120)]),
    "long_target": req(H, line=b"GET /" + b"a" * 9000 + b" HTTP/1.1"),
    "dup_host": req(H, H),
}

CHUNKED = {
    "valid": b"5\r\nhello\r\n0\r\n\r\n",
    "valid_ext": b'3;a=b;c="d e"\r\nabc\r\n0;x\r\n\r\n',
    "valid_trailers": b"1\r\na\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n",
    "upper_hex": b"A\r\n0123456789\r\n0\r\n\r\n",
    # 11. chunk size
    "size_0x": b"0x1\r\na\r\n0\r\n\r\n",
    "size_plus": b"+1\r\na\r\n0\r\n\r\n",
    "size_underscore": b"1_0\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n",
    "size_overflow": b"1" * 17 + b"\r\na\r\n0\r\n\r\n",
    "size_trailing_space": b"1 \r\na\r\n0\r\n\r\n",
    # 12. extensions
    "ext_bare_lf": b"1;a=b\nc\r\n0\r\n\r\n",
    "ext_bare_cr": b"1;a\rb\r\nc\r\n0\r\n\r\n",
    "ext_bad_quote": b'1;a="b\r\nc\r\n0\r\n\r\n',
    "ext_long": b"1;" + b"a" * 5000 + b"\r\nc\r\n0\r\n\r\n",
    "tiny_chunks": b"1\r\na\r\n" * 64 + b"0\r\n\r\n",
    # 13. missing CRLF after data, truncated end
    "no_crlf_after_data": b"1\r\naXX0\r\n\r\n",
    "truncated_end": b"1\r\na\r\n0\r\n",
    # 14. trailers
    "trailer_forbidden": b"0\r\nContent-Length: 5\r\n\r\n",
    "trailer_host": b"0\r\nHost: x\r\n\r\n",
    "trailer_bare_lf": b"0\r\nX: 1\n\r\n",
    "trailers_many": b"0\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(120)) + b"\r\n",
    "smuggle_after": b"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: h\r\n\r\n",
}

RESPONSES = {
    "ok_length": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET"),
    "ok_chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                   "GET"),
    "close_delimited": (b"HTTP/1.0 200 OK\r\n\r\nuntil eof", "GET"),
    "head": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD"),
    "no_content": (b"HTTP/1.1 204 No Content\r\n\r\n", "GET"),
    "continue_then_ok": (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                         "POST"),
    "connect_tunnel": (b"HTTP/1.1 200 Connection established\r\n\r\ntunnel bytes", "CONNECT"),
    "cl_te": (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"0\r\n\r\n", "GET"),
    "cl_equal_list": (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", "GET"),
    "cl_differ": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", "GET"),
    "reason_cr": (b"HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n", "GET"),
    "value_nul": (b"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n", "GET"),
    "status_0xx": (b"HTTP/1.1 099 Old\r\n\r\n", "GET"),
    "status_short": (b"HTTP/1.1 20 OK\r\n\r\n", "GET"),
    "no_reason": (b"HTTP/1.1 200\r\n\r\n", "GET"),
    "version_2": (b"HTTP/2.0 200 OK\r\n\r\n", "GET"),
    "bare_lf": (b"HTTP/1.1 200 OK\nContent-Length: 0\n\n", "GET"),
    "te_gzip": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw", "GET"),
    # The client distrusts servers (SECURITY.md, "What the client refuses").
    "te_http10": (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "GET"),
    "te_chunked_twice": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
                         b"0\r\n\r\n", "GET"),
    "no_content_length": (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", "GET"),
    "switching_chunked": (b"HTTP/1.1 101 Switching Protocols\r\nTransfer-Encoding: chunked\r\n"
                          b"Upgrade: x\r\nConnection: upgrade\r\n\r\n0\r\n\r\n", "GET"),
    "head_with_body": (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "HEAD"),
    "interim_flood": (b"HTTP/1.1 103 Early Hints\r\n\r\n" * 40, "GET"),
    "obs_fold": (b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n", "GET"),
    "cut_body": (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "GET"),
}


def main() -> None:
    root = os.path.join(HERE, "corpus")
    shutil.rmtree(root, ignore_errors=True)
    for target, seeds in (("request", REQUESTS), ("chunked", CHUNKED)):
        os.makedirs(os.path.join(root, target))
        for name, data in seeds.items():
            with open(os.path.join(root, target, name), "wb") as f:
                f.write(encode(data))
        # The first few also cut into reads, with eof.
        for name, data in list(seeds.items())[:4]:
            with open(os.path.join(root, target, name + "_split"), "wb") as f:
                f.write(encode(data, (len(data) // 3, len(data) // 2, len(data) - 1), eof=True))
    os.makedirs(os.path.join(root, "response"))
    for name, (data, method) in RESPONSES.items():
        with open(os.path.join(root, "response", name), "wb") as f:
            f.write(encode(data, eof=True, method=method))
    total = sum(len(files) for _, _, files in os.walk(root))
    print(f"wrote {total} seeds under {root}")


if __name__ == "__main__":
    main()
