"""Recipe text <-> tokens.

Training text and prompts pass through the same ``standardize``: Unicode NFKC, lowercase,
every punctuation mark its own token, single spaces between tokens. The vectorizer then only
splits on spaces, so what the model sees in training and at a prompt cannot drift apart.
``detokenize`` goes the other way for people: it re-attaches punctuation ("1 / 2" -> "1/2",
"salt , pepper ." -> "salt, pepper.") without ever gluing two words together, so
``standardize(detokenize(tokens))`` gives back the same tokens.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

END_TOKEN = "<end>"  # closes every training recipe; "<" and ">" alone are split, so text cannot produce it
SEPARATOR = "|"  # between title and directions, as in the book
RECIPE_PREFIX = "recipe for"

_PUNCTUATION = re.compile(r"([^\w\s])")  # any single character that is neither a word character nor space
_SPACES = re.compile(r"\s+")

# How punctuation is written back for people.
_NO_SPACE_BEFORE = set(",.;:!?)]}%°'")
_NO_SPACE_AFTER = set("([{$#°")
_INFIX = {"/": False, "-": False, "'": False, ".": True, ",": True, ":": True}  # mark -> only between digits?


def standardize(text: str) -> str:
    """The one normal form for training text and prompts: tokens separated by single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PUNCTUATION.sub(r" \1 ", text)
    return _SPACES.sub(" ", text).strip()


def tokenize(text: str) -> list[str]:
    return standardize(text).split()


def format_recipe(title: str, directions: Sequence[str] | str) -> str:
    """``Recipe for <title> | <directions joined>``, the book's template, not yet standardized."""
    if not isinstance(directions, str):
        directions = " ".join(step.strip() for step in directions)
    return f"Recipe for {title.strip()} {SEPARATOR} {directions.strip()}"


def training_text(title: str, directions: Sequence[str] | str) -> str:
    """A recipe as the model is trained on it: standardized and closed by the end token."""
    return f"{standardize(format_recipe(title, directions))} {END_TOKEN}"


def detokenize(tokens: Iterable[str]) -> str:
    """Readable text from tokens: punctuation re-attached, sentences capitalized, stops at the end token."""
    words: list[str] = []
    for token in tokens:
        if token == END_TOKEN:
            break
        if token:
            words.append(token)
    infix = {i for i in range(1, len(words) - 1) if _is_infix(words[i - 1], words[i], words[i + 1])}
    pieces: list[str] = []
    for i, token in enumerate(words):
        if i > 0 and not _joined(words[i - 1], token, i in infix or i - 1 in infix):
            pieces.append(" ")
        pieces.append(token)
    return _capitalize_sentences("".join(pieces))


def _is_punct(token: str) -> bool:
    return len(token) == 1 and bool(_PUNCTUATION.fullmatch(token))


def _is_infix(before: str, mark: str, after: str) -> bool:
    """A mark written inside a word or number: 1/2, all-purpose, don't, 1.5, 1,000, 10:30."""
    if mark not in _INFIX:
        return False
    if _INFIX[mark]:
        return before.isdigit() and after.isdigit()
    return before.isalnum() and after.isalnum()


def _joined(previous: str, token: str, infix: bool) -> bool:
    if not (_is_punct(previous) or _is_punct(token)):
        return False  # two words always keep their space, or they would read back as one token
    if SEPARATOR in (previous, token):
        return False  # "title | directions" stays easy to see
    return infix or token in _NO_SPACE_BEFORE or previous in _NO_SPACE_AFTER


_SENTENCE_START = re.compile(r"(^|[.!?|]\s+)([a-z])")


def _capitalize_sentences(text: str) -> str:
    return _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)
