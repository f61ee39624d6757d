"""Replacing a file so that a crash or a concurrent reader never sees it half written."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` for the caller to write; when the block ends without an
    error the file is flushed to disk and renamed over `path` (one atomic step within a
    folder), and after an error it is removed, leaving `path` as it was.

    The temporary file is named for this process: the workers of one server may write the
    same file at once, and each must rename only its own whole copy.
    """
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
