"""The house's import rules: the stages that need no TensorFlow never load it, and no stage imports the CLI."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "recipegen"
WITHOUT_TENSORFLOW = ["config", "text", "templates", "measures", "ngram", "foods", "generation.settings",
                      "generation.samples", "score", "data", "errors", "finetune", "realism", "paths",
                      "corpora.sources", "corpora.report"]


@pytest.mark.slow  # starts a process of its own
@pytest.mark.parametrize("module", WITHOUT_TENSORFLOW)
def test_module_loads_no_tensorflow(module):
    code = f"import sys, recipegen.{module}; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"], f"recipegen.{module} imports TensorFlow or Keras"


@pytest.mark.slow  # starts a process of its own
def test_recipegen_data_reads_a_corpus_without_tensorflow():
    corpus = Path(__file__).resolve().parents[1] / "data" / "recipes.json"
    code = ("import sys; from recipegen.cli import run_command; "
            f"code = run_command(['data', {str(corpus)!r}, '--json']); "
            "print(code, 'tensorflow' in sys.modules, 'keras' in sys.modules, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stderr.split()[-3:] == ["0", "False", "False"], result.stderr
    assert '"recipes": 219' in result.stdout


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("recipegen"):
            names.add(node.module)
            names.update(f"recipegen.{alias.name}" for alias in node.names if node.module == "recipegen")
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("recipegen"))
    return names


# The command line's own rooms; the server (serve/) is the other front end and may use them too.
CLI_MODULES = ("cli", "__main__", "entry", "exits", "render", "options", "runtime", "jsonl")


def test_no_stage_imports_the_cli_or_the_rendering():
    for path in PACKAGE.rglob("*.py"):
        if path.stem not in CLI_MODULES and path.parent.name != "serve":
            assert not imported_modules(path) & {f"recipegen.{name}" for name in CLI_MODULES}, path.name


def test_no_module_is_over_300_lines():
    """Rooms a newcomer reads in one sitting: a module that grows past this splits by what it is for."""
    long = {path.relative_to(PACKAGE).as_posix(): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 300}
    assert not long, long
