"""Files: crash-safe writes (atomic replace, locked appends of whole lines), and user text read plainly.

- `atomic_write_text` writes a temp file in the same folder, fsyncs it and
  `os.replace`s it over the target: readers see the old file or the new one,
  never half of one, and the temp file is removed on any error (Ctrl-C too).
- `append_line` takes an exclusive `fcntl` lock on the file, repairs a torn
  last line left by a crashed writer (by ending it with a newline, so the
  torn line stays on its own and readers skip it), appends one line with a
  single write, flushes and fsyncs. Several processes may append at once.
- `append_line_from` is `append_line` whose line is computed from the file's
  lines under the same lock: a read-modify-append no other writer interleaves.
- `read_user_text` reads a file the user named; anything that stops it
  (missing, a directory, no permission, not UTF-8) is one `UnreadableFile`
  sentence naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


class UnreadableFile(ValueError):
    """A user's file that cannot be read as text; the message names it and the fix.

    Attributes:
        path: The file.
        what: What is wrong, e.g. "is not UTF-8 text (byte 0xff at offset 24)".
        fix: What to do, e.g. "save it as UTF-8".
    """

    def __init__(self, path: str | Path, what: str, fix: str):
        self.path, self.what, self.fix = str(path), what, fix
        super().__init__(f"{path} {what}; {fix}")


def read_user_text(path: str | Path) -> str:
    """The text of a file the user named (UTF-8, a leading BOM dropped).

    Raises:
        UnreadableFile: Missing, a directory, unreadable, or not UTF-8.
    """
    target = Path(path)
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        raise UnreadableFile(target, "does not exist", "check the path") from None
    except IsADirectoryError:
        raise UnreadableFile(target, "is a directory", "pass a file") from None
    except OSError as error:
        raise UnreadableFile(target, f"cannot be read ({error.strerror})", "check the path and its permissions") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            target, f"is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})", "save it as UTF-8"
        ) from None


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
def locked(path: str | Path, *, shared: bool = False, wait: bool = True, across_nodes: bool = False) -> Iterator[int]:
    """An fd of `path` held under an fcntl lock (created if missing, unless `shared`).

    Args:
        path: The file to lock (a data file or a `.lock` beside one).
        shared: A shared (reader's) lock instead of an exclusive one.
        wait: Block until the lock is free; False raises `BlockingIOError` when another process holds it.
        across_nodes: POSIX `lockf` locks, which NFS (lockd) honours across machines; exclusive only.
    """
    target = Path(path)
    if shared:  # readers never create the file, and may read a read-only one
        fd = os.open(target, os.O_RDONLY)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB)
        if across_nodes:
            fcntl.lockf(fd, mode)
        else:
            fcntl.flock(fd, mode)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def read_tail(path: str | Path, limit: int = 256 * 1024) -> str:
    """The last `limit` bytes of a file (a log), as text; "" when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - limit))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _append_locked(fd: int, line: str) -> None:
    """Append `line` to the file of `fd`, which the caller holds under an exclusive lock."""
    if "\n" in line:
        raise ValueError("append_line takes a single line")
    size = os.fstat(fd).st_size
    data = line + "\n"
    if size and os.pread(fd, 1, size - 1) != b"\n":
        data = "\n" + data  # a writer died mid-line: close its torn line first
    os.write(fd, data.encode("utf-8"))
    os.fsync(fd)


def append_line(path: str | Path, line: str) -> None:
    """Append one line (no newline inside) to `path` under an exclusive lock."""
    if "\n" in line:
        raise ValueError("append_line takes a single line")
    with locked(path) as fd:
        _append_locked(fd, line)


def append_line_from(path: str | Path, build: Callable[[list[str]], str | None]) -> str | None:
    """Append `build(lines of path)` to `path`, reading and appending under one exclusive lock.

    The lock is `append_line`'s, so no other writer (append or update) lands
    between the read and the append. `build` sees the complete lines, as
    `read_lines` returns them; when it returns None nothing is written.

    Returns:
        The line appended, or None.
    """
    with locked(path) as fd:
        size = os.fstat(fd).st_size
        line = build(_complete_lines(os.pread(fd, size, 0) if size else b""))
        if line is not None:
            _append_locked(fd, line)
        return line


def _complete_lines(data: bytes) -> list[str]:
    text = data.decode("utf-8", errors="replace")
    # the last element is "" after a final newline, or a torn line: drop either
    return [line for line in text.split("\n")[:-1] if line.strip()]


def read_lines(path: str | Path) -> list[str]:
    """The complete lines of `path` (a torn last line without newline is left out)."""
    target = Path(path)
    if not target.exists():
        return []
    with locked(target, shared=True) as fd:
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0) if size else b""
    return _complete_lines(data)
