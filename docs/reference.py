"""Writes docs/cli.md and docs/configuration.md from the code itself, so neither can go stale.

    python docs/reference.py          # rewrite both
    python docs/reference.py --check  # exit 1 if either differs from what the code says

docs/cli.md is every command's ``--help``, as click prints it at a fixed width. docs/configuration.md
is every config key with its default and the comment beside it in src/recipegen/config.py (the
decoding keys of ``[sample]`` take theirs from generation/settings.py, where they are defined).
tests/test_docs.py fails when either file is stale.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import sys
import tokenize
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
WIDTH = 100  # the help's width, fixed so the file does not depend on the terminal that wrote it


def cli_reference() -> str:
    import click

    from recipegen.cli import cli

    root = click.Context(cli, info_name="recipegen", terminal_width=WIDTH, max_content_width=WIDTH)
    parts = ["# Command-line reference", "",
             "Every command's `--help`, written by `python docs/reference.py` (a test fails when this file is",
             "stale). The commands in use: [README](../README.md); what the options do in depth: the other",
             "pages of [docs](.).", "", "```text", cli.get_help(root), "```"]
    for name in sorted(cli.commands):
        command = cli.commands[name]
        context = click.Context(command, parent=root, info_name=name, terminal_width=WIDTH, max_content_width=WIDTH)
        parts += ["", f"## recipegen {name}", "", "```text", command.get_help(context), "```"]
    return "\n".join(parts) + "\n"


def configuration_reference() -> str:
    from recipegen import config
    from recipegen.generation.settings import BY_NAME

    comments = _field_comments(Path(config.__file__))
    parts = ["# Configuration", "",
             "Every key of a config file, its default (`configs/default.toml`'s) and what it means, written by",
             "`python docs/reference.py` from `src/recipegen/config.py` (a test fails when this file is stale).",
             "Any key can be set from the command line: `recipegen train --set model.units=64`. An unknown key",
             "is an error. A run writes its resolved config to `config.toml` in its directory.", ""]
    defaults = config.Config()
    for section in dataclasses.fields(config.Config):
        value = getattr(defaults, section.name)
        if not dataclasses.is_dataclass(value):
            parts += [f"- `{section.name}` = `{_toml(value)}`: {comments.get(('Config', section.name), '')}", ""]
            continue
        parts += [f"## [{section.name}]", "", "| key | default | meaning |", "|---|---|---|"]
        for field in dataclasses.fields(value):
            meaning = next((comments[(cls.__name__, field.name)] for cls in type(value).__mro__
                            if (cls.__name__, field.name) in comments), None)
            if meaning is None and section.name == "sample" and field.name in BY_NAME:
                meaning = BY_NAME[field.name].help + " (generation/settings.py)"
            cell = (meaning or "").replace("|", "\\|")
            parts.append(f"| `{field.name}` | `{_toml(getattr(value, field.name))}` | {cell} |")
        parts.append("")
    return "\n".join(parts)


def _field_comments(path: Path) -> dict[tuple[str, str], str]:
    """(class, field) -> the comment on the field's line, after any comment lines just above it."""
    source = path.read_text(encoding="utf-8")
    comments = {token.start[0]: token.string.lstrip("# ").strip()
                for token in tokenize.generate_tokens(io.StringIO(source).readline) if token.type == tokenize.COMMENT}
    lines = source.splitlines()
    found = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                above, line = [], item.lineno - 1
                while line >= 1 and lines[line - 1].strip().startswith("#"):
                    above.insert(0, comments[line])
                    line -= 1
                text = " ".join([*above, comments.get(item.lineno, "")]).strip()
                found[(node.name, item.target.id)] = text
    return found


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, float) and value == float("inf"):
        return "inf"
    if dataclasses.is_dataclass(value):  # a table of its own, such as data.fields: its keys, as TOML writes them
        return "{" + ", ".join(f"{f.name} = {_toml(getattr(value, f.name))}" for f in dataclasses.fields(value)) + "}"
    return repr(value)


REFERENCES = {"cli.md": cli_reference, "configuration.md": configuration_reference}


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for name, write in REFERENCES.items():
        text, path = write(), DOCS / name
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    for name in stale:
        print(f"docs/{name} is stale: run python docs/reference.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
