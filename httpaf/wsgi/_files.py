"""``wsgi.file_wrapper``: files the server may send with ``os.sendfile``."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import Any

__all__ = ["FileWrapper"]


class FileWrapper:
    """``wsgi.file_wrapper``: a file sent with ``os.sendfile`` when it is a regular file.

    Iterating yields ``block_size`` pieces (the fallback); ``close()`` closes the file.
    """

    def __init__(self, filelike: Any, block_size: int = 8192) -> None:
        self.filelike = filelike
        self.block_size = block_size

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        size = self.block_size
        while True:
            data = read(size)
            if not data:
                return
            yield data

    def close(self) -> None:
        """Close the file (when it has ``close``)."""
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()

    def regular_fd(self) -> int | None:
        """The file descriptor of a regular file, or ``None`` (then iterate)."""
        fileno = getattr(self.filelike, "fileno", None)
        if fileno is None:
            return None
        try:
            fd = int(fileno())
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
        except (OSError, ValueError, TypeError, AttributeError):
            return None
        return fd


# -- wsgi.input ------------------------------------------------------------------------
