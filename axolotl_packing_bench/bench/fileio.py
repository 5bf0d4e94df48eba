"""Crash-safe file writes: atomic replace, and locked appends of whole lines.

- `atomic_write_text` writes a temp file in the same folder, fsyncs it and
  `os.replace`s it over the target: readers see the old file or the new one,
  never half of one, and the temp file is removed on any error (Ctrl-C too).
- `append_line` takes an exclusive `fcntl` lock on the file, repairs a torn
  last line left by a crashed writer (by ending it with a newline, so the
  torn line stays on its own and readers skip it), appends one line with a
  single write, flushes and fsyncs. Several processes may append at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def atomic_write_text(path: str | Path, text: str) -> None:
    """Replace `path` with `text` atomically (temp file + fsync + os.replace)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


@contextlib.contextmanager
def locked(path: str | Path, *, shared: bool = False) -> Iterator[int]:
    """An fd of `path` held under an fcntl lock (created if missing, unless `shared`)."""
    target = Path(path)
    if shared:  # readers never create the file, and may read a read-only one
        fd = os.open(target, os.O_RDONLY)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def append_line(path: str | Path, line: str) -> None:
    """Append one line (no newline inside) to `path` under an exclusive lock."""
    if "\n" in line:
        raise ValueError("append_line takes a single line")
    with locked(path) as fd:
        size = os.fstat(fd).st_size
        data = line + "\n"
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = "\n" + data  # a writer died mid-line: close its torn line first
        os.write(fd, data.encode("utf-8"))
        os.fsync(fd)


def read_lines(path: str | Path) -> list[str]:
    """The complete lines of `path` (a torn last line without newline is left out)."""
    target = Path(path)
    if not target.exists():
        return []
    with locked(target, shared=True) as fd:
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0) if size else b""
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    # the last element is "" after a final newline, or a torn line: drop either
    return [line for line in lines[:-1] if line.strip()]
