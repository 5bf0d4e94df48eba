"""No orphans: a cell's processes die with the runner, however the runner ends.

Linux's `prctl(PR_SET_PDEATHSIG, sig)` asks the kernel to send `sig` to a
process when its parent dies, even by SIGKILL. It covers one process, so a
cell runs under a small guard that is its process group's leader:

    packbench run ──► guard (group leader, PDEATHSIG=SIGUSR2) ──► training (+ its workers)

When the runner dies, the guard receives SIGUSR2 and SIGKILLs its whole
process group (launchers, ranks, data workers), then dies. The training
process also gets PDEATHSIG=SIGKILL in case the guard itself is killed. The
warm worker (`bench.warm`) plays the guard's part for the cells it forks.

Run as `python -m axolotl_packing_bench.core.procguard PARENT_PID -- ARGV...`:
the guard exits with the training's status (re-raising the signal that
killed it, so the runner sees the same status as without a guard).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

PR_SET_PDEATHSIG = 1
GUARD_SIGNAL = signal.SIGUSR2
"""What the guard receives when the runner dies; it then kills its process group."""


def set_parent_death_signal(sig: int) -> bool:
    """Have the kernel send `sig` to this process when its parent dies; False off Linux."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(expected_parent: int, sig: int = signal.SIGKILL) -> None:
    """`set_parent_death_signal`, then exit at once if the parent is already gone (the race)."""
    set_parent_death_signal(sig)
    if os.getppid() != expected_parent:
        os._exit(128 + int(sig))


def guard_argv(argv: Sequence[str], *, python: str = sys.executable) -> list[str]:
    """`argv` run under the guard, which dies (and kills its group) with this process."""
    return [python, "-m", "axolotl_packing_bench.core.procguard", str(os.getpid()), "--", *argv]


def _kill_group(signum: int, frame: object) -> None:
    os.killpg(0, signal.SIGKILL)  # includes the guard itself


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m axolotl_packing_bench.core.procguard PARENT_PID -- ARGV...", file=sys.stderr)
        return 2
    parent, command = int(args[0]), args[2:]
    signal.signal(GUARD_SIGNAL, _kill_group)
    die_with_parent(parent, GUARD_SIGNAL)
    # SIGTERM/SIGINT reach the training through the group; the guard waits for it and reports its status.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    me = os.getpid()

    def child_setup() -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        die_with_parent(me)

    try:
        process = subprocess.Popen(command, preexec_fn=child_setup)  # noqa: S603,PLW1509 - the user's train command
    except OSError as error:
        print(f"packbench: cannot start {command[0]}: {error.strerror}", file=sys.stderr, flush=True)
        return 127
    status = process.wait()
    if status < 0:  # killed by a signal: die by the same one
        with contextlib.suppress(OSError, ValueError):
            signal.signal(-status, signal.SIG_DFL)
        os.kill(me, -status)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
