"""Reading a file whole, up to a size cap.

Whatever comes in by path (a config file, a program to run, a demos file) is read to at most
its cap plus one byte, so a huge file or an endless stream (``/dev/zero``, a pipe that never
closes its end) becomes one clear error instead of every byte of memory.
"""

from __future__ import annotations

from pathlib import Path

from ponder.errors import PonderError

MIB = 1024 * 1024


def size_text(limit: int) -> str:
    """``1 MiB``, ``512 KiB``, ``100 bytes``: a cap as people read it."""
    if limit >= MIB and limit % MIB == 0:
        return f"{limit // MIB} MiB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


def read_bounded(path: Path, limit: int, *, what: str, error: type[PonderError] = PonderError,
                 hint: str = "") -> bytes:
    """The bytes of ``path``; ``error`` when it holds more than ``limit`` (nothing past
    ``limit + 1`` bytes is read). ``OSError`` propagates for the caller to word."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise error(f"{what} {path} is larger than {size_text(limit)}, the most ponder reads"
                    + (f"; {hint}" if hint else ""))
    return data
