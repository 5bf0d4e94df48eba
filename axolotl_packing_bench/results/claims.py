"""Per-cell claims on a results file: two runs sharing it never train one cell (repeat) at once.

A claim is the file `.<results name>.claims/<cell_id>#<repeat>` beside the
results file (through symlinks: one file, one set of claims), created with
`O_CREAT | O_EXCL` (atomic, also on NFS v3+) and holding `host pid started`.
Whoever creates it trains the cell, records it and removes the claim.

A claim left by a dead process of this host is stale and taken over (under a
lock, so two takers never both win); a claim of another host counts as live,
since its pid cannot be checked from here: its description names the file to
remove if that task is gone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from axolotl_packing_bench.core.fileio import UnwritableFile, locked


def claims_dir(results_path: str | Path) -> Path:
    """`.<name>.claims/` beside the results file it names (resolved through symlinks)."""
    target = Path(os.path.realpath(results_path))
    return target.with_name(f".{target.name}.claims")


def claim_path(results_path: str | Path, cell_id: str, repeat: int) -> Path:
    """The claim file of one repeat of one cell."""
    return claims_dir(results_path) / f"{cell_id}#{repeat}"


@dataclass(frozen=True)
class Claim:
    """A held claim; `release` removes it (a missing file is fine)."""

    path: Path

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _holder_fields(path: Path) -> list[str] | None:
    """`[host, pid, started]` of a claim file; [] when it is empty or unreadable; None when it is gone."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").split()
    except FileNotFoundError:
        return None
    except OSError:
        return []


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _is_stale(fields: list[str]) -> bool:
    """A claim of this host whose process is gone."""
    if len(fields) < 2 or fields[0] != socket.gethostname() or not fields[1].isdigit():
        return False
    return not _pid_alive(int(fields[1]))


def describe_holder(path: Path, fields: list[str]) -> str:
    """One line naming who holds the claim at `path`."""
    if len(fields) < 3:
        return f"an unknown process (its claim is empty or unreadable; if no run trains that cell, remove {path})"
    host, pid, started = fields[:3]
    text = f"pid {pid} on {host} since {started}"
    if host != socket.gethostname():
        text += f" (if that task is gone, remove {path})"
    return text


def _create(path: Path) -> bool:
    """Create the claim file with our `host pid started`; False when it already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    except OSError as error:
        raise UnwritableFile(path, error) from None
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    data = f"{socket.gethostname()} {os.getpid()} {started}\n".encode()
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(errno.ENOSPC, "short write")
        os.fsync(fd)
    except OSError as error:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise UnwritableFile(path, error) from None
    os.close(fd)
    return True


def claim(results_path: str | Path, cell_id: str, repeat: int = 0) -> Claim | str:
    """Claim one repeat of a cell before training it into `results_path`.

    Returns:
        The held `Claim`, or a one-line description of the live holder.

    Raises:
        UnwritableFile: The claims folder or file cannot be written (full disk, read-only folder).
    """
    path = claim_path(results_path, cell_id, repeat)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UnwritableFile(path.parent, error) from None
    while True:
        if _create(path):
            return Claim(path)
        fields = _holder_fields(path)
        if fields is None:  # released meanwhile: try again
            continue
        if not _is_stale(fields):
            return describe_holder(path, fields)
        with locked(path.parent / ".takeover.lock"):  # one taker at a time: only the first sees it stale
            again = _holder_fields(path)
            if again == fields:
                try:
                    path.unlink(missing_ok=True)
                except OSError as error:
                    raise UnwritableFile(path, error) from None


def ok_runs(results_path: str | Path) -> set[tuple[str, str, int]]:
    """(matrix, cell id, repeat) of every run whose latest result in `results_path` is ok (none when it is missing).

    A run that claims a cell compares this with what was ok when it planned:
    a cell another run recorded meanwhile is not trained again.
    """
    from axolotl_packing_bench.results.store import latest_per_run, read_results

    if not Path(results_path).exists():
        return set()
    return {key for key, result in latest_per_run(read_results(results_path, warn=False)).items() if result.ok}
