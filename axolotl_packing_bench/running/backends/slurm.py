"""Slurm job arrays for a matrix: one array per resource shape, one array task per cell.

Tasks of one job array share its `#SBATCH` resources, so cells are grouped by
`Resources.shape` (CPUs, GPUs, memory, time) and each group becomes one
script, `runs/<matrix>/slurm/<matrix>-<shape>.sbatch`. Array task `i` runs
cell `CELLS[i]` with `python -m axolotl_packing_bench.running.task`, which
trains it with the same `axolotl train <recipe> --launcher <launcher>`
command as `packbench run` (`num_processes` ranks on the task's node, which
asks for a core or GPU each; see `resources`), appends its result to the shared results file
(locked; see `running.task`), then runs the matrix's eval and probes there,
where the model is, and records the evaluated result. Cells already ok are
left out of the arrays.

`SlurmBackend` is the `--backend slurm` of the driver loop: it collects the
planned cells, then writes (or prints, or `sbatch`es) the scripts and hands
the cells off; the array tasks record them.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from axolotl_packing_bench.constants import DEFAULT_LEADERBOARD, DEFAULT_RESULTS
from axolotl_packing_bench.matrix.spec import Cell
from axolotl_packing_bench.running.backends.resources import Resources
from axolotl_packing_bench.running.runner import CellPlan

TIME_SLACK_S = 600
"""Added to a cell's time limit for start-up and recording, so its own timeout fires first."""


@dataclass(frozen=True)
class SlurmScript:
    """One job-array script: its file name, text and cells (array index order)."""

    name: str
    text: str
    cells: tuple[Cell, ...]
    resources: Resources
    repeats: tuple[int, ...] = ()


def slurm_time(seconds: float) -> str:
    """`D-HH:MM:SS` for `#SBATCH --time`."""
    total = int(seconds + 0.999)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"


def shape_name(resources: Resources) -> str:
    """A file-name tag for a resource shape, e.g. `g8-c64-m512G` (+ `-t4h`)."""
    parts = [f"g{resources.gpus}", f"c{resources.cpus}"]
    if resources.memory:
        parts.append(f"m{resources.memory}")
    if resources.time_s:
        parts.append(f"t{int(resources.time_s)}s")
    return "-".join(parts)


def render_script(
    matrix_name: str,
    matrix_path: str | Path,
    cells: Sequence[Cell],
    resources: Resources,
    *,
    runs_dir: str | Path = "runs",
    results_path: str | Path = DEFAULT_RESULTS,
    leaderboard_path: str | Path = DEFAULT_LEADERBOARD,
    python: str = "python",
    train_command: str | None = None,
    timeout: float | None = None,
    fresh: bool = False,
    extra_sbatch: Sequence[str] = (),
    repeats: Sequence[int] = (),
) -> str:
    """The job-array script for `cells`, which all ask for `resources` (pure)."""
    tag = shape_name(resources)
    log_dir = Path(runs_dir) / matrix_name / "slurm"
    lines = [
        "#!/bin/bash",
        f"# packbench: matrix {matrix_name}, {len(cells)} cell{'s' if len(cells) != 1 else ''}, each on one node with "
        f"{resources.gpus} GPU{'s' if resources.gpus != 1 else ''}, {resources.cpus} CPUs"
        + (f", {resources.memory} memory" if resources.memory else "")
        + ".",
        f"# Written by `packbench run --matrix {matrix_path} --backend slurm`; "
        "submit it with `sbatch` from the directory",
        "# packbench ran in (paths are relative to it), or pass --submit. Array task i trains CELLS[i] with",
        "# `axolotl train runs/<matrix>/<cell>/recipe.yml --launcher <launcher>` and appends its result to the",
        f"# shared {results_path} (fcntl-locked). Resubmitting skips cells already ok.",
        f"#SBATCH --job-name=packbench-{matrix_name}-{tag}",
        f"#SBATCH --array=0-{len(cells) - 1}",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        f"#SBATCH --cpus-per-task={resources.cpus}",
    ]
    if resources.gpus:
        lines.append(f"#SBATCH --gres=gpu:{resources.gpus}")
    if resources.memory:
        lines.append(f"#SBATCH --mem={resources.memory}")
    limit = timeout if timeout is not None else resources.time_s
    if limit:
        lines.append(f"#SBATCH --time={slurm_time(limit + TIME_SLACK_S)}")
    lines.append(f"#SBATCH --output={log_dir}/%x-%A_%a.out")
    lines += [f"#SBATCH {option}" for option in extra_sbatch]
    lines += ["", "set -euo pipefail", 'cd "${SLURM_SUBMIT_DIR:-.}"', "", "CELLS=("]
    lines += [f"  {shlex.quote(cell.cell_id)}" for cell in cells]
    lines += [")", 'CELL="${CELLS[$SLURM_ARRAY_TASK_ID]}"']
    if any(repeats):
        lines += ["REPEATS=(" + " ".join(str(repeat) for repeat in repeats) + ")"]
    lines.append("")
    argv = [
        python, "-m", "axolotl_packing_bench.running.task",
        "--matrix", str(matrix_path),
        "--cell", "CELL_PLACEHOLDER",
        "--runs-dir", str(runs_dir),
        "--results", str(results_path),
        "--leaderboard", str(leaderboard_path),
    ]  # fmt: skip
    if train_command:
        argv += ["--train-command", train_command]
    if timeout is not None:
        argv += ["--timeout", f"{timeout:g}"]
    if fresh:
        argv.append("--fresh")
    if any(repeats):
        argv += ["--repeat", "REPEAT_PLACEHOLDER"]
    command = shlex.join(argv).replace("CELL_PLACEHOLDER", '"$CELL"')
    command = command.replace("REPEAT_PLACEHOLDER", '"${REPEATS[$SLURM_ARRAY_TASK_ID]}"')
    lines += [f"exec {command}", ""]
    return "\n".join(lines)


def render_scripts(
    matrix_name: str,
    matrix_path: str | Path,
    plans: Sequence[CellPlan],
    resources: Callable[[Cell], Resources],
    **options,
) -> list[SlurmScript]:
    """One script per resource shape, for the plans not skipped, in first-cell order."""
    groups: dict[tuple, tuple[Resources, list[CellPlan]]] = {}
    for plan in plans:
        if plan.skip:
            continue
        need = resources(plan.cell)
        groups.setdefault(need.shape, (need, []))[1].append(plan)
    return [
        SlurmScript(
            name=f"{matrix_name}-{shape_name(need)}.sbatch",
            text=render_script(
                matrix_name,
                matrix_path,
                [plan.cell for plan in group],
                need,
                repeats=[plan.repeat for plan in group],
                **options,
            ),
            cells=tuple(plan.cell for plan in group),
            resources=need,
            repeats=tuple(plan.repeat for plan in group),
        )
        for need, group in groups.values()
    ]


def write_scripts(scripts: Sequence[SlurmScript], folder: str | Path) -> list[Path]:
    """Write each script into `folder` (created); returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for script in scripts:
        path = folder / script.name
        path.write_text(script.text, encoding="utf-8")
        path.chmod(0o755)
        paths.append(path)
    return paths


def submit(path: str | Path, sbatch: str = "sbatch") -> str:
    """`sbatch --parsable PATH`; returns the job id. Raises `RuntimeError` with sbatch's message."""
    try:
        done = subprocess.run(
            [sbatch, "--parsable", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise RuntimeError(
            f"{sbatch} is not on PATH; run on a Slurm login node, or submit {path} there by hand"
        ) from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(f"sbatch {path} failed: {message[-1] if message else f'exit status {done.returncode}'}")
    return done.stdout.strip().split(";")[0]


class SlurmBackend:
    """`--backend slurm`: collect the planned cells, then write/print/submit their job arrays and hand them off."""

    name = "slurm"
    slots: int | None = None
    runs_follow_up = True  # the array task runs eval and probes where the model is
    hands_off = True  # each array task claims, trains and records its cell itself (`running.task`)

    def __init__(self, options) -> None:
        import sys

        from axolotl_packing_bench.running.backends.resources import ResourcesError, matrix_resources

        if options.matrix is None:
            raise ValueError("the slurm backend needs the matrix")
        try:
            self.rules = matrix_resources(options.matrix)
        except ResourcesError as error:
            raise ValueError(str(error)) from None
        self.options = options
        self.python = sys.executable
        self.plans: list[CellPlan] = []

    def describe(self, plans: Sequence[CellPlan]) -> str:
        """The scripts `--dry-run` prints."""
        scripts = self._scripts(plans)
        if not scripts:
            return self._nothing(plans)
        folder = Path(self.options.runs_dir) / self.options.matrix.name / "slurm"
        return "\n".join(f"# ---- {folder / script.name}\n{script.text}" for script in scripts)

    def _scripts(self, plans: Sequence[CellPlan]) -> list[SlurmScript]:
        extra = self.options.extra
        return render_scripts(
            self.options.matrix.name, extra.get("matrix_path") or self.options.matrix.path, plans, self.rules.for_cell,
            runs_dir=self.options.runs_dir, results_path=self.options.results_path,
            leaderboard_path=self.options.leaderboard_path, python=self.python,
            train_command=extra.get("train_command_text"), timeout=self.options.timeout, fresh=bool(extra.get("fresh")),
        )  # fmt: skip

    def _nothing(self, plans: Sequence[CellPlan]) -> str:
        skipped = sum(plan.skip for plan in plans)
        return f"matrix {self.options.matrix.name}: every cell is already ok ({skipped} skipped); nothing to submit"

    def submit(self, plan: CellPlan) -> None:
        self.plans.append(plan)

    def poll(self, wait_s: float):
        from axolotl_packing_bench.running.backends.backend import BackendError, Outcome

        if not self.plans:
            return []
        plans, self.plans = self.plans, []
        scripts = self._scripts(plans)
        folder = Path(self.options.runs_dir) / self.options.matrix.name / "slurm"
        for path, script in zip(write_scripts(scripts, folder), scripts):
            if self.options.extra.get("submit"):
                try:
                    job = submit(path)
                except RuntimeError as error:
                    raise BackendError(f"{error}.") from None
                print(f"submitted {path}: job {job}, {len(script.cells)} cells", flush=True)
            else:
                print(f"wrote {path} ({len(script.cells)} cells); submit it with: sbatch {path}", flush=True)
        return [Outcome(plan, None, "handed_off") for plan in plans]

    def cancel(self) -> None:
        self.plans.clear()

    def close(self) -> None:
        pass
