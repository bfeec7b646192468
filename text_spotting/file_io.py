"""File-system steps shared by every writer of files that must survive a crash (annotations, checkpoints)."""
from __future__ import annotations

import os


def fsync_directory(directory: str | os.PathLike) -> None:
    """Makes a rename in ``directory`` durable (also for checkpoint writes); a platform that cannot open a directory
    skips it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
