"""The command line's shared options and the reading of their values, for cli.py's commands.

Each function turns what the user typed into what the library takes (a config, a recipe's title
and ingredient lines) or the library's complaint into a one-line error for the right option.
Nothing here imports TensorFlow: ``recipegen --help`` and shell completion stay instant.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from recipegen import shipped
from recipegen.generation.settings import CONFIGURED, SETTINGS, Setting, SettingError, check_max_tokens
from recipegen.paths import overlap, refuse_overlap, refuse_unwritable

DEFAULT_CONFIG = Path("configs/default.toml")
RUN_DIR = click.Path(file_okay=False, path_type=Path)  # shells complete it with directories only

run_option = click.option("--model", "run_path", type=RUN_DIR,
                          help="Run directory (default: the most recently saved run under ./runs).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
config_option = click.option(
    "--config", "config_path", type=click.Path(path_type=Path),
    help=f"A TOML config, or a shipped one by name: {', '.join(shipped.config_names())} "
         f"(default: {DEFAULT_CONFIG}, here or shipped).")
set_option = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                          help="Override any config key, e.g. --set model.cell=gru --set model.units=64. Repeatable.")


def config_and_set_options(command: Any) -> Any:
    return config_option(set_option(command))


def decoding_options(*, skip: tuple[str, ...] = ()) -> Any:
    """One option per decoding setting (generation/settings.py), but those in ``skip``: its help,
    type and range come from the setting, a value out of range is refused while the command line
    is read, and a setting a run configures defaults to that run's sample.* value."""

    def add(command: Any) -> Any:
        for spec in reversed(SETTINGS):
            if spec.name in skip:
                continue
            help_text = spec.help + (f" (default: the run's sample.{spec.name})" if spec in CONFIGURED else "")
            if spec.name == "temperature":  # not a run's setting: every call chooses it, 1 unless told
                command = click.option(spec.option, "-t", type=float, default=spec.off, show_default=True,
                                       metavar=spec.metavar, help=help_text, callback=checked_by(spec))(command)
            else:
                command = click.option(spec.option, type=spec.kind, metavar=spec.metavar, help=help_text,
                                       callback=checked_by(spec))(command)
        return command

    return add


def checked_by(spec: Setting) -> Any:
    """A click callback that refuses a value (or each of a repeated option's) with the setting's own
    rule while the command line is read, before any work is done."""

    def check(context: click.Context, parameter: click.Parameter, value: Any) -> Any:
        for each in value if isinstance(value, tuple) else (value,):
            if each is not None:
                try:
                    spec.check(each)
                except SettingError as e:
                    raise click.BadParameter(str(e), param_hint=_longest(parameter)) from None
        return value

    return check


def checked_max_tokens(context: click.Context, parameter: click.Parameter, value: int | None) -> int | None:
    if value is not None:
        try:
            check_max_tokens(value)
        except SettingError as e:
            raise click.BadParameter(str(e), param_hint=_longest(parameter)) from None
    return value


def _longest(parameter: click.Parameter) -> str:
    """How errors name an option: its long name, unquoted, as ``bad_option`` names the library's."""
    return max(parameter.opts, key=len)


def training_config(config_path: Path | None, overrides: tuple[str, ...], data: str | None, epochs: int | None,
                    seed: int | None, strategy: str | None, tensorboard: bool, resume_dir: Path | None,
                    overwrite: bool, out: Path | None, init_from: Path | None = None) -> tuple[Any, Any]:
    """The config ``train``'s options ask for (configs/default.toml when present and no --config is
    given) and the base run of --init-from (run.Run) or None; (None, None) with --resume,
    which continues a run with its own config."""
    from recipegen.config import load_config, parse_override
    from recipegen.corpora.sources import read_root
    from recipegen.finetune import based_config, read_base
    from recipegen.run import RUNS_DIR, check_new_run_dir

    if resume_dir is not None:
        refuse_unwritable("--resume", resume_dir, resume_dir)
        given = [name for name, value in (("--config", config_path), ("--data", data), ("--out", out),
                                          ("--seed", seed is not None), ("--set", overrides),
                                          ("--overwrite", overwrite), ("--init-from", init_from)) if value]
        if given:
            raise click.UsageError(f"--resume continues a run with its own config; it cannot be combined with "
                                   f"{', '.join(given)}")
        return None, None
    values = dict(parse_override(text) for text in overrides)
    for key, value in (("data.path", data), ("train.epochs", epochs), ("seed", seed), ("train.strategy", strategy)):
        if value is not None:
            values[key] = value
    if tensorboard:
        values["train.tensorboard"] = True
    config = load_config(config_path or DEFAULT_CONFIG, values)
    corpus = read_root(config.data.path)
    if out is not None:
        refuse_overlap("--out", out, [("--init-from", init_from), ("the corpus", corpus)])
    elif overlap(RUNS_DIR, corpus) in ("is", "lies inside"):  # the run's files would be read back as corpus
        raise click.UsageError(f"the default --out {RUNS_DIR}/ lies inside the corpus {corpus}; name --out elsewhere")
    # What each machine's disk holds is checked here, before any work, except on the workers of a
    # multiworker run: one that stopped before the cluster formed would leave the others waiting for
    # it forever. They check once it has formed (run.prepare_run_dir), where a failure stops them all.
    if config.train.strategy != "multiworker":
        if out is not None:
            check_new_run_dir(out, overwrite)
        refuse_unwritable("--out", out or RUNS_DIR, out or RUNS_DIR)
    if init_from is None:
        return config, None
    base = read_base(init_from)
    return based_config(base, config, values), base


def data_config(config_path: Path | None, overrides: tuple[str, ...], path: str, to: Path | None) -> tuple[Any, str]:
    """How ``recipegen data`` reads PATH (the config's data.fields and data.encoding) and its template;
    a --to that would write into what is read, or where nothing can be written, refused first."""
    from recipegen.config import load_config, parse_override
    from recipegen.corpora.sources import would_read
    from recipegen.data import reading_of

    config = load_config(config_path or DEFAULT_CONFIG, dict(parse_override(text) for text in overrides))
    if to is not None:
        if str(to) == "-" or (to.exists() and not to.is_file()):
            raise click.BadParameter(f"{to}: not a file to write (the report is on stdout)", param_hint="--to")
        if would_read(path, to):
            raise click.BadParameter(f"{to}: is part of the corpus {path}, which this command reads; write elsewhere",
                                     param_hint="--to")
        if not to.parent.is_dir():
            raise click.BadParameter(f"{to}: no directory {to.parent} to write it in", param_hint="--to")
        refuse_unwritable("--to", to, to.parent)
    return reading_of(config.data), config.data.template


def asked_recipe(prompt: str | None, ingredients: str | None, ingredients_file: Path | None,
                  title: str | None) -> tuple[str | None, tuple[str, ...]] | None:
    """The title and ingredient lines that --title and --ingredients(-file) ask for; None without them."""
    if ingredients is not None and ingredients_file is not None:
        raise click.UsageError("give the ingredient list once: --ingredients or --ingredients-file, not both")
    if ingredients is None and ingredients_file is None and title is None:
        return None
    if prompt is not None:
        raise click.UsageError("--prompt cannot be combined with --title or --ingredients, which write the prompt")
    if ingredients_file is not None:
        try:
            lines = ingredients_file.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise click.BadParameter(f"{ingredients_file}: cannot read it ({e})",
                                     param_hint="--ingredients-file") from None
        option = "--ingredients-file"
    else:
        lines = (ingredients or "").split(";")
        option = "--ingredients"
    lines = [" ".join(line.split()) for line in lines if line.strip()]
    if (ingredients is not None or ingredients_file is not None) and not lines:
        raise click.BadParameter("no ingredient in the list" + (" (separate lines with ';')" if ingredients is not None
                                                                 else ""), param_hint=option)
    if title is not None and not title.strip():
        raise click.BadParameter("the title is empty", param_hint="--title")
    return title, tuple(lines)


def jsonl_output(path: Path | None, as_json: bool) -> None:
    """Refuse a --jsonl that cannot be written before any work is done."""
    if path is None:
        return
    if as_json:
        raise click.UsageError("--json and --jsonl are two output formats: choose one")
    if str(path) == "-" or (path.exists() and not path.is_file()):  # a stream (a FIFO, a device): written to
        return
    if not path.parent.is_dir():
        raise click.BadParameter(f"{path}: no directory {path.parent} to write it in", param_hint="--jsonl")
    refuse_unwritable("--jsonl", path, path.parent)  # the file is made beside it, then renamed


def bad_option(error: Any, ingredients_file: Path | None = None) -> click.BadParameter:
    """The library's SettingError as a one-line error for the option that set it."""
    if error.setting == "ingredients" and ingredients_file:
        option = "--ingredients-file"
    elif len(error.setting) == 1:  # -n
        option = f"-{error.setting}"
    else:
        option = f"--{error.setting.replace('_', '-')}"
    return click.BadParameter(str(error), param_hint=option)


def serve_options(command: Callable) -> Callable:
    """``recipegen serve``'s own options: where it listens, how much it batches, its key and its grace."""
    for option in reversed([
        click.option("--host", default="127.0.0.1", show_default=True,
                     help="Address to listen on (loopback: this machine only)."),
        click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
                     help="Port (0: any free one, shown in the line that says the server is up)."),
        click.option("--max-batch", type=click.IntRange(1, 1024), default=32, show_default=True,
                     help="Most recipes decoded together; requests that arrive during a batch share the next one."),
        click.option("--api-key", envvar="RECIPEGEN_API_KEY",
                     help="Require 'Authorization: Bearer KEY' on the API (or set RECIPEGEN_API_KEY)."),
        click.option("--grace", type=click.FloatRange(0), default=30.0, show_default=True,
                     help="Seconds a stop waits for the requests in flight."),
    ]):
        command = option(command)
    return command
