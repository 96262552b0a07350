"""``--env-file``: variables from a dotenv file, read with python-dotenv (as uvicorn does).

The file is read once, in the first process, before anything else reads the
environment (``$WEB_CONCURRENCY``, ``$FORWARDED_ALLOW_IPS``, the application): workers
and reloaded workers inherit the result. Variables already set are kept (python-dotenv's
``override=False``).
"""

from __future__ import annotations

import logging
import os

__all__ = ["load_env_file"]

logger = logging.getLogger("httpaf.cli")


def load_env_file(path: str | os.PathLike[str]) -> None:
    """Set the variables of the dotenv file ``path`` that are not set yet."""
    try:
        from dotenv import load_dotenv
    except ImportError:
        raise RuntimeError("--env-file needs python-dotenv: pip install 'httpaf[dotenv]'") from None
    logger.info("Loading environment from '%s'", os.fspath(path))
    load_dotenv(dotenv_path=path, override=False)
