"""Shell completion through click's own protocol, from the installed ``recipegen`` command."""

import os
import subprocess
import sys

import pytest

from conftest import RECIPEGEN, needs_entry_point

pytestmark = needs_entry_point


def complete(instruction, **env):
    return subprocess.run([RECIPEGEN], env=os.environ | {"_RECIPEGEN_COMPLETE": instruction} | env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow  # starts a process of its own
@pytest.mark.parametrize("shell, line", [
    ("bash", "complete -o nosort -F _recipegen_completion recipegen"),
    ("zsh", "compdef _recipegen_completion recipegen"),
    ("fish", 'complete --no-files --command recipegen --arguments "(_recipegen_completion)";'),
])
def test_prints_a_completion_script_for_each_shell(shell, line):
    result = complete(f"{shell}_source")
    assert result.returncode == 0, result.stderr
    assert line in [text.strip() for text in result.stdout.splitlines()]


def bash_completions(*words):
    """What bash's completion function receives for the command line ``words``, the last one being completed."""
    result = complete("bash_complete", COMP_WORDS=" ".join(words), COMP_CWORD=str(len(words) - 1))
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()  # "type,value" per candidate


def test_bash_completes_commands_and_options():
    assert bash_completions("recipegen", "ge") == ["plain,generate"]
    assert {"plain,info", "plain,train", "plain,generate", "plain,evaluate"} <= set(bash_completions("recipegen", ""))
    assert "plain,--tensorboard" in bash_completions("recipegen", "train", "--te")
    assert bash_completions("recipegen", "info", "runs") == ["dir,runs"], "a run directory completes as a directory"


@pytest.mark.slow  # starts a process of its own
def test_completion_does_not_import_tensorflow():
    code = ("import sys\nfrom recipegen.entry import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('tensorflow' in sys.modules, file=sys.stderr)")
    env = os.environ | {"_RECIPEGEN_COMPLETE": "bash_complete", "COMP_WORDS": "recipegen evaluate --mo",
                        "COMP_CWORD": "2"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines() == ["plain,--model"]
    assert result.stderr.strip().splitlines()[-1] == "False", result.stderr
