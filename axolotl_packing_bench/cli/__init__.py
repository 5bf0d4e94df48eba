"""The `packbench` command line.

Each command lives in its own module under `axolotl_packing_bench.cli` and is
imported only when it runs (or when help is asked for), so `packbench --help`
stays instant and never imports torch or Axolotl.
"""

from __future__ import annotations

import importlib

import click

from axolotl_packing_bench.core.quiet import quiet_known_noise

quiet_known_noise()  # before any command imports torch, torchao or lm-eval

# command name -> "module:function"; modules keep heavy imports inside functions.
COMMANDS: dict[str, str] = {
    "stats": "axolotl_packing_bench.cli.stats:stats",
    "assets": "axolotl_packing_bench.cli.assets:assets",
    "validate": "axolotl_packing_bench.cli.matrix_commands:validate",
    "recipes": "axolotl_packing_bench.cli.matrix_commands:recipes",
    "run": "axolotl_packing_bench.cli.run:run",
    "record": "axolotl_packing_bench.cli.leaderboard_commands:record",
    "leaderboard": "axolotl_packing_bench.cli.leaderboard_commands:leaderboard",
    "compare": "axolotl_packing_bench.cli.leaderboard_commands:compare",
    "status": "axolotl_packing_bench.cli.run:status",
    "probe": "axolotl_packing_bench.cli.probe:probe",
    "eval": "axolotl_packing_bench.cli.evaluate:evaluate",
    "judge": "axolotl_packing_bench.cli.judge:judge",
    "plot": "axolotl_packing_bench.cli.plot:plot",
    "doctor": "axolotl_packing_bench.cli.doctor:doctor",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use.

    A command that needs a module of a pip extra that is not installed ends
    with one sentence naming the extra (`extras.missing_extra_message`); a
    write that failed (`fileio.UnwritableFile`) or a path holding the wrong
    kind of file (`results.kinds.WrongKindOfFile`) ends with its sentence.
    """

    def invoke(self, ctx: click.Context):
        from axolotl_packing_bench.core.fileio import UnwritableFile

        try:
            return super().invoke(ctx)
        except UnwritableFile as error:  # full disk, no permission: the file is as it was, said in one sentence
            raise click.ClickException(str(error)) from None
        except RuntimeError as error:
            from axolotl_packing_bench.assets.cache import AssetError

            if not isinstance(error, AssetError):
                raise
            raise click.ClickException(str(error)) from None
        except ValueError as error:
            from axolotl_packing_bench.results.kinds import WrongKindOfFile

            if not isinstance(error, WrongKindOfFile):
                raise
            from axolotl_packing_bench.cli.errors import UserInputError

            raise UserInputError(str(error)) from None
        except ModuleNotFoundError as error:
            from axolotl_packing_bench.cli.errors import UserInputError
            from axolotl_packing_bench.core.extras import missing_extra_message

            message = missing_extra_message(error, ctx.invoked_subcommand)
            if message is None:  # not a module of an extra: a bug, shown as one
                raise
            raise UserInputError(message) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:  # command not shipped in this build
                return None
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="axolotl-packing-bench")
def main() -> None:
    """Padding or packing, and which packing? Measure it on your model and data.

    Start with `packbench stats` to see what each packing strategy would save
    on your dataset, then `packbench run --matrix` to train and compare.
    """
