"""Files: crash-safe writes (atomic replace, locked appends of whole lines), and user text read plainly.

- `atomic_write_text` writes a temp file in the same folder, fsyncs it and
  `os.replace`s it over the target (through a symlink, to the file it names):
  readers see the old file or the new one, never half of one, and the temp
  file is removed on any error (Ctrl-C too). The new file keeps the mode of
  the one it replaces; a new file gets the umask's mode like any tool's output.
- `append_line` takes an exclusive `fcntl` lock on the file, repairs a torn
  last line left by a crashed writer (by ending it with a newline, so the
  torn line stays on its own and readers skip it), appends one line, checking
  every byte was written, and fsyncs. A failed append (short write, full disk)
  truncates the file back to its previous length: no torn row is left. Several
  processes may append at once.
- Any `OSError` of a write (no space, no permission, a read-only disk) is one
  `UnwritableFile` sentence naming the file, raised after the file is restored.
- `append_line_from` is `append_line` whose line is computed from the file's
  lines under the same lock: a read-modify-append no other writer interleaves.
- `read_user_text` reads a file the user named; anything that stops it
  (missing, a directory, no permission, not UTF-8) is one `UnreadableFile`
  sentence naming the file and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
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
        raise UnreadableFile(
            target, f"cannot be read ({error.strerror})", "check the path and its permissions"
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            target, f"is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})", "save it as UTF-8"
        ) from None


_FIXES = {
    errno.ENOSPC: "free some space or write it elsewhere",
    errno.EDQUOT: "free some space or write it elsewhere",
    errno.EACCES: "check its permissions (and its folder's) or write it elsewhere",
    errno.EPERM: "check its permissions (and its folder's) or write it elsewhere",
    errno.EROFS: "write it elsewhere",
}


class UnwritableFile(OSError):
    """A write that failed (no space, no permission...); the file was left as it was.

    The message names it and the fix.
    """

    def __init__(self, path: str | Path, error: OSError):
        self.path, self.cause = str(path), error
        reason = error.strerror or str(error) or type(error).__name__
        fix = _FIXES.get(error.errno or 0, "check the path")
        super().__init__(
            error.errno, f"cannot write {path} ({reason[:1].lower() + reason[1:]}); it was left as it was; {fix}"
        )

    def __str__(self) -> str:
        return str(self.strerror)


@contextlib.contextmanager
def _writing(path: str | Path) -> Iterator[None]:
    """Turn an `OSError` inside into `UnwritableFile` naming `path`."""
    try:
        yield
    except UnwritableFile:
        raise
    except OSError as error:
        raise UnwritableFile(path, error) from error


def _write(fd: int, data: memoryview) -> int:
    """`os.write`, the one seam tests replace to inject short writes and a full disk."""
    return os.write(fd, data)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data` to `fd`, looping over short writes; a write of nothing is a full disk."""
    view = memoryview(data)
    while view:
        written = _write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _new_file_mode() -> int:
    """The mode a new file gets under the current umask (0o666 minus the umask)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


class StagedText:
    """`text` written and fsynced beside `path` in a temp file.

    `commit` puts it in place (atomically), `discard` drops it.

    The temp file gets the mode of the file it will replace (a new file: the
    umask's). A symlink at `path` stays one: the file it names is replaced.

    Raises:
        UnwritableFile: The temp file could not be written (nothing is left behind).
    """

    def __init__(self, path: str | Path, text: str):
        if not isinstance(text, str):
            raise TypeError(f"atomic_write_text writes str, not {type(text).__name__}")
        self.path = Path(path)
        self.target = Path(os.path.realpath(path))
        self.temp: str | None = None
        with _writing(path):
            self.target.parent.mkdir(parents=True, exist_ok=True)
            try:
                mode = stat.S_IMODE(os.stat(self.target).st_mode)
            except FileNotFoundError:
                mode = _new_file_mode()
            fd, self.temp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=self.target.parent)
            try:
                try:
                    _write_all(fd, text.encode("utf-8"))
                    os.fchmod(fd, mode)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except BaseException:
                self.discard()
                raise

    def commit(self) -> None:
        """Replace the file with the staged text."""
        if self.temp is None:
            raise RuntimeError("nothing staged")
        try:
            with _writing(self.path):
                os.replace(self.temp, self.target)
            self.temp = None
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the temp file, if it is still there."""
        if self.temp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.temp)
            self.temp = None


def atomic_write_text(path: str | Path, text: str) -> None:
    """Replace `path` with `text` atomically (temp file + fsync + os.replace), keeping its mode.

    Raises:
        UnwritableFile: The write failed; the file is as it was.
    """
    staged = StagedText(path, text)
    try:
        staged.commit()
    except BaseException:
        staged.discard()
        raise


@contextlib.contextmanager
def locked(path: str | Path, *, shared: bool = False, across_nodes: bool = False) -> Iterator[int]:
    """An fd of `path` held under an fcntl lock (created if missing, unless `shared`).

    Args:
        path: The file to lock (a data file or a `.lock` beside one).
        shared: A shared (reader's) lock instead of an exclusive one.
        across_nodes: POSIX `lockf` locks, which NFS (lockd) honours across machines; exclusive only.
    """
    target = Path(path)
    if shared:  # readers never create the file, and may read a read-only one
        fd = os.open(target, os.O_RDONLY)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        if across_nodes:
            fcntl.lockf(fd, mode)
        else:
            fcntl.flock(fd, mode)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def try_lock(path: str | Path) -> int | None:
    """An fd of `path` under a non-blocking exclusive flock (the caller closes it), or None when another holds it.

    Raises:
        UnwritableFile: The lock file cannot be created (a read-only folder, a full disk...).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise UnwritableFile(target, error) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


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
    try:
        _write_all(fd, data.encode("utf-8"))
        os.fsync(fd)
    except BaseException:
        os.ftruncate(fd, size)  # no torn row: the file is as it was before this append
        raise


def append_line(path: str | Path, line: str) -> None:
    """Append one line (no newline inside) to `path` under an exclusive lock.

    Raises:
        UnwritableFile: The append failed; the file is as it was.
    """
    if "\n" in line:
        raise ValueError("append_line takes a single line")
    with _writing(path), locked(path) as fd:
        _append_locked(fd, line)


def append_line_from(
    path: str | Path, build: Callable[[list[str]], str | None], after: Callable[[], None] | None = None
) -> str | None:
    """Append `build(lines of path)` to `path`, reading and appending under one exclusive lock.

    The lock is `append_line`'s, so no other writer (append or update) lands
    between the read and the append. `build` sees the complete lines, as
    `read_lines` returns them; when it returns None nothing is written.
    `after` runs under the same lock once the line is appended (e.g. to put a
    board rendered from those lines in place, in the order of the appends).

    Returns:
        The line appended, or None.
    """
    with _writing(path), locked(path) as fd:
        size = os.fstat(fd).st_size
        line = build(_complete_lines(os.pread(fd, size, 0) if size else b""))
        if line is not None:
            _append_locked(fd, line)
            if after is not None:
                after()
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
