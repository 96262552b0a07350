"""The small integer codes the connection modules share.

What a server connection awaits from its peer (the public ``AWAIT_*`` values of
:meth:`ServerConnection.awaiting`) and where a response stands (private to the
request descriptor and the connection). They live apart from the classes so the
compiled build can hold them as C integers (``_compiled/*.pxd``) while the names
stay importable from :mod:`httpaf.connection`.
"""

from __future__ import annotations

__all__ = [
    "AWAIT_NOTHING",
    "AWAIT_REQUEST",
    "AWAIT_HEAD",
    "AWAIT_BODY",
    "WAITING",
    "STREAMING",
    "UPGRADED",
    "COMPLETE",
]

#: :meth:`ServerConnection.awaiting` results, for a runtime's timers (the connection
#: itself reads no clock): nothing is expected from the peer now (a handler is
#: producing a response), the next request (no byte of it parsed yet), the rest of
#: a request head, or request-body bytes (a handler waits for them, or an answered
#: body is being discarded).
AWAIT_NOTHING = 0
AWAIT_REQUEST = 1
AWAIT_HEAD = 2
AWAIT_BODY = 3

# Response states: no response yet, a streamed body under way, upgraded, or a whole
# body sent (no BodyWriter involved).
WAITING = 0
STREAMING = 1
UPGRADED = 2
COMPLETE = 3
