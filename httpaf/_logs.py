"""The loggers of the servers (``httpaf.error``, ``httpaf.access``) and what they share.

Integrations log application errors and server events on :data:`error_logger` and one
line per response on :data:`access_logger` (at INFO). Text from the peer goes through
:func:`escape` first, so a request cannot forge log lines.
"""

from __future__ import annotations

import logging

__all__ = ["access_logger", "error_logger", "escape"]

error_logger = logging.getLogger("httpaf.error")
access_logger = logging.getLogger("httpaf.access")


def escape(text: str) -> str:
    """``text`` with control and other unprintable characters escaped, for logs."""
    if text.isprintable():
        return text
    return text.encode("unicode_escape").decode("ascii")
