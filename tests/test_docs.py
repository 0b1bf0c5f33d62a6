"""The reference in docs/ cannot drift from the code: the CLI and configuration pages are what the
code writes, and the module map lists every module in an order its imports keep."""

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "recipegen"


@pytest.fixture(scope="module")
def reference():
    spec = importlib.util.spec_from_file_location("reference", ROOT / "docs" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["cli.md", "configuration.md"])
def test_generated_reference_is_current(reference, name):
    written = (ROOT / "docs" / name).read_text(encoding="utf-8")
    assert written == reference.REFERENCES[name](), f"docs/{name} is stale: run python docs/reference.py"


def test_the_cli_reference_has_every_command_and_option(reference):
    from recipegen.cli import cli

    text = reference.cli_reference()
    for name, command in cli.commands.items():
        assert f"## recipegen {name}" in text
        for parameter in command.params:
            for option in getattr(parameter, "opts", []):
                if option.startswith("--"):
                    assert option in text, f"{name} {option}"


def test_the_configuration_reference_has_every_key_with_a_meaning(reference):
    import dataclasses

    from recipegen.config import Config

    text = reference.configuration_reference()
    for section in dataclasses.fields(Config):
        default = getattr(Config(), section.name)
        keys = [f.name for f in dataclasses.fields(default)] if dataclasses.is_dataclass(default) else [section.name]
        for key in keys:
            row = re.search(rf"^(\| `{key}` \| `[^`]*` \||- `{key}` = `[^`]*`:) *(.*)$", text, flags=re.M)
            assert row and row.group(2).strip(" |"), f"{section.name}.{key} has no meaning in docs/configuration.md"


def mapped_modules() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    return re.findall(r"^\| `([\w/]+\.py)` \|", text, flags=re.M)


def recipegen_imports(path: Path) -> set[str]:
    """The package modules a file imports, as paths under src/recipegen/."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("recipegen"):
            names = ([f"recipegen.{alias.name}" for alias in node.names] if node.module == "recipegen"
                     else [node.module])
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names if alias.name.startswith("recipegen")]
        else:
            continue
        for name in names:
            relative = name.removeprefix("recipegen").lstrip(".").replace(".", "/")
            for candidate in (f"{relative}.py", f"{relative}/__init__.py" if relative else "__init__.py"):
                if (PACKAGE / candidate).is_file():
                    found.add(candidate)
    return found


def test_the_module_map_lists_every_module_once():
    listed = mapped_modules()
    actual = sorted(path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py"))
    assert sorted(listed) == actual
    assert len(listed) == len(set(listed))


def test_each_module_imports_only_modules_listed_above_it():
    order = {name: i for i, name in enumerate(mapped_modules())}
    for name, position in order.items():
        later = sorted(other for other in recipegen_imports(PACKAGE / name)
                       if other in order and order[other] > position and not other.endswith("__init__.py"))
        assert not later, f"{name} imports {later}, listed below it in docs/architecture.md"
