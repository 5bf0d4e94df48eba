"""The reliability suite: what packbench promises whatever the user types or the machine does,
and the tests that hold it to it.

Promises:

1. Nothing written is lost. A results file is only ever appended to, one
   whole line at a time; a short write or a full disk truncates the file back
   (no torn row), and the row and the board rendered from it are written both
   or neither. Boards and JSON are replaced atomically and keep their mode.
   A path holding the other kind of file (a board given as --results, a
   results file as --leaderboard, any other file, a directory, a FIFO) is
   refused before anything is written. Two `packbench run`s never train into
   one results file, and a run dir belongs to one results file.
2. No secret is written. Keys and tokens in failure reasons, logs and judge
   replies become [REDACTED] in results and boards; a judge key variable that
   is unset is refused before any work, unless the judge needs none.
3. Every bad input gets one sentence and a non-zero exit, with no traceback:
   wrong kinds of files, full or read-only disks, permission errors, missing
   pip extras (the sentence names the extra), hostile names (`../`, `$(...)`).

How each is tested (every class with two inputs or more, hostile ones too):

- test_typed_outputs: swapped --results/--leaderboard for record, leaderboard
  and run; random bytes, notes and non-results JSON as results; a directory,
  a FIFO, a symlink to a board; the files compared byte for byte afterwards.
- test_writes: a fault-injecting `fileio._write` (short writes, ENOSPC after
  0, 1 and 17 bytes, a write of nothing, EACCES); a real 64 KiB tmpfs filled
  up (record, leaderboard, and run, which stops before its next cell) and
  remounted read-only (skipped where mounting is not allowed); modes kept.
- test_shared_results: two real concurrent `packbench run` processes on the
  fake trainer sharing a results file (same matrix in another runs dir,
  another matrix), or a runs dir (another results file); run dirs owned by
  one results file, resumed by the same one.
- test_keys_and_extras: `packbench judge` and `packbench run` with the key
  variable unset (remote judge, named variable) and the cases that need none;
  `run` in an interpreter where axolotl or ray cannot be imported.
- test_promises_kept: concurrent recorders (3 processes), SIGINT and SIGTERM
  mid-cell, secrets printed by a failing cell, hostile names, torn and junk
  lines.
"""
