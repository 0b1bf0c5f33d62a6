"""Recipe text <-> tokens, at the word level (the book's) or the character level.

Training text and prompts pass through the same standardization, so what the model sees in
training and at a prompt cannot drift apart. Word level: Unicode NFKC, lowercase, every
punctuation mark its own token, single spaces between tokens; the vectorizer then only splits
on spaces. ``detokenize`` goes the other way for people: it re-attaches punctuation
("1 / 2" -> "1/2", "salt , pepper ." -> "salt, pepper.") without ever gluing two words
together, so ``standardize(detokenize(tokens))`` gives back the same tokens.

Character level: NFKC and lowercase too, but punctuation stays where it was written and each
character is a token (``TextVectorization(split="character")``).

Markers such as the end of a recipe are tokens that text can never produce. At the word level
they are written ``<end>``, which text cannot yield because "<" and ">" are split off; at the
character level each is one private-use character, which standardization removes from text.
Either way the rest of the code sees a marker by its name, ``<end>``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass


class Marker(str):
    """A section marker, told apart from text by its type: a recipe's own line that reads "<end>"
    is text, standardized like any other, and never closes the recipe."""


END_TOKEN = Marker("<end>")  # closes every training recipe; "<" and ">" alone are split, so text cannot produce it
INGREDIENTS = Marker("<ingredients>")  # the full template's section markers, see templates.py
ITEM = Marker("<item>")
DIRECTIONS = Marker("<directions>")
STEP = Marker("<step>")
MARKERS = (END_TOKEN, INGREDIENTS, ITEM, DIRECTIONS, STEP)
SEPARATOR = "|"  # between title and directions, as in the book
RECIPE_PREFIX = "recipe for"
TOKEN_LEVELS = ("word", "char")
PAD_ID = 0  # TextVectorization's mask token ""; here so modules without TensorFlow can use it
UNK_ID = 1  # TextVectorization's "[UNK]"

_PUNCTUATION = re.compile(r"([^\w\s])")  # any single character that is neither a word character nor space
_SPACES = re.compile(r"\s+")

# How punctuation is written back for people (export.py does the same in TensorFlow ops).
NO_SPACE_BEFORE = set(",.;:!?)]}%°'")
NO_SPACE_AFTER = set("([{$#°")
INFIX = {"/": False, "-": False, "'": False, ".": True, ",": True, ":": True}  # mark -> only between digits?


def standardize(text: str) -> str:
    """The one normal form for training text and prompts: tokens separated by single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PUNCTUATION.sub(r" \1 ", text)
    return _SPACES.sub(" ", text).strip()


def tokenize(text: str) -> list[str]:
    return standardize(text).split()


_CHAR_SYMBOLS = {marker: chr(0xE000 + i) for i, marker in enumerate(MARKERS)}  # Unicode private use area
_CHAR_MARKERS = {symbol: marker for marker, symbol in _CHAR_SYMBOLS.items()}
_LINE_SPACES = re.compile(r"[^\S\n]+")  # whitespace other than a newline


def standardize_chars(text: str) -> str:
    """The character level's normal form: NFKC, lowercase, control and private-use characters
    dropped (so no text can write a marker), runs of spaces made one, blank lines removed.
    Newlines stay: in a play or a poem they are part of the text."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(c for c in text if c == "\n" or c == "\t" or unicodedata.category(c) not in ("Cc", "Co", "Cs"))
    lines = (_LINE_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class Tokenizer:
    """How one token level writes text for the model and reads tokens back for people."""

    level: str  # "word" or "char"

    @property
    def split(self) -> str:
        """TextVectorization's ``split`` for this level."""
        return "whitespace" if self.level == "word" else "character"

    def standardize(self, text: str) -> str:
        return standardize(text) if self.level == "word" else standardize_chars(text)

    def symbol(self, marker: str) -> str:
        """A marker as it appears in model text and in the vocabulary."""
        return marker if self.level == "word" else _CHAR_SYMBOLS[marker]

    def name(self, entry: str) -> str:
        """A vocabulary entry as the rest of the code sees it: markers by name."""
        return entry if self.level == "word" else _CHAR_MARKERS.get(entry, entry)

    def model_text(self, pieces: Iterable[str]) -> str:
        """Model text from a mix of plain text and markers (``Marker``s): each text piece standardized."""
        return self._joined(self.symbol(p) if isinstance(p, Marker) else self.standardize(p) for p in pieces)

    def tokens(self, model_text: str) -> list[str]:
        """The tokens of model text, markers by name."""
        if self.level == "word":
            return model_text.split()
        return [_CHAR_MARKERS.get(c, c) for c in model_text]

    def as_string(self, tokens: Iterable[str]) -> str:
        """Tokens as one standardized string, the way the model reads them (markers by name)."""
        return self._separator.join(tokens)

    def prompt_tokens(self, prompt: str) -> list[str]:
        """A prompt standardized like training text; markers written by name (``<ingredients>``) are kept."""
        pieces = re.split(f"({'|'.join(re.escape(m) for m in MARKERS if m != END_TOKEN)})", prompt)
        # Odd pieces are the section markers split out; an even piece is text, even "<end>".
        tokens = self.tokens(self._joined(self.symbol(piece) if i % 2 else self.standardize(piece)
                                          for i, piece in enumerate(pieces)))
        trailing = prompt[len(prompt.rstrip()):]
        if self.level == "char" and tokens and trailing and tokens[-1] not in MARKERS:
            tokens.append("\n" if "\n" in trailing else " ")  # "FERRYMAN\n" asks for the next line
        return tokens

    @property
    def _separator(self) -> str:
        """Between tokens in model text: words are spaced, characters are not."""
        return " " if self.level == "word" else ""

    def _joined(self, parts: Iterable[str]) -> str:
        return self._separator.join(part for part in parts if part)

    def readable(self, tokens: Iterable[str]) -> str:
        """Text for people from tokens, up to the end token."""
        if self.level == "word":
            return detokenize(tokens)
        chars: list[str] = []
        for token in tokens:
            if token == END_TOKEN:
                break
            chars.append(f" {token} " if token in MARKERS else token)
        return _capitalize_sentences("".join(chars).strip())


WORDS = Tokenizer("word")
CHARS = Tokenizer("char")


def tokenizer_for(level: str) -> Tokenizer:
    if level not in TOKEN_LEVELS:
        raise ValueError(f"token level must be one of {', '.join(TOKEN_LEVELS)}, got {level!r}")
    return WORDS if level == "word" else CHARS


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
    if mark not in INFIX:
        return False
    if INFIX[mark]:
        return before.isdigit() and after.isdigit()
    return before.isalnum() and after.isalnum()


def _joined(previous: str, token: str, infix: bool) -> bool:
    if not (_is_punct(previous) or _is_punct(token)):
        return False  # two words always keep their space, or they would read back as one token
    if SEPARATOR in (previous, token):
        return False  # "title | directions" stays easy to see
    return infix or token in NO_SPACE_BEFORE or previous in NO_SPACE_AFTER


_SENTENCE_START = re.compile(r"(^|[.!?|>]\s+)([a-z])", re.MULTILINE)  # ">" ends a marker such as <step>


def _capitalize_sentences(text: str) -> str:
    return _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)
