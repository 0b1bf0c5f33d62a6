"""A run as one TensorFlow SavedModel: a prompt string in, a recipe out, recipegen not needed.

``recipegen generate`` reads the prompt, decodes and writes the text in Python. Here all three
are TensorFlow ops inside one function, so any TensorFlow can load and call it:

    generator = tf.saved_model.load("exported")
    out = generator.generate(prompt="recipe for toast", max_tokens=200, temperature=0.7, seed=42)
    out["text"]  # a scalar string; also "tokens", "ended", "seed", "unknown_words"

- The prompt is read as ``Tokenizer.prompt_tokens`` reads it, in ``tf.strings`` ops: section
  markers written by name kept, then lowercase and every punctuation mark its own token at the
  word level, control characters dropped and spaces collapsed at the character level. A
  ``tf.lookup.StaticHashTable`` maps the tokens to the run's vocabulary ids.
- The ``Generator``'s own decoding loop (``Generator.decode``) steps the run's trained layers and
  samples with the settings given as scalar tensors (see generation/samplers.py): temperature 0 is greedy,
  top_k 0, top_p 1 and min_p 0 mean no filter, and a negative seed draws a random one. Every
  setting but the seed defaults to the run's (``max_tokens``: enough for its longest recipe).
- The text is written back by ``text.detokenize``'s rules, applied to all neighbours at once.

The one difference from ``recipegen generate``: TensorFlow has no Unicode NFKC normalization, so
compatibility characters in a prompt (the ligature "ﬁ", full-width letters, "½") are not folded
into the plain ones the vocabulary holds and may read as unknown. A prompt whose every token is
unknown fails with ``InvalidArgumentError``, as do settings out of range. Sections are not parsed.
"""

from __future__ import annotations

import inspect
import os
import re
import string
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from recipegen import stopping
from recipegen.errors import ExportError
from recipegen.files import directory_locked, sync
from recipegen.generation.generator import Generator
from recipegen.generation.settings import CONFIGURED, MAX_TOKENS, SETTINGS
from recipegen.paths import refuse_overlap, refuse_unwritable
from recipegen.run import Run, load_run
from recipegen.text import CHARS, END_TOKEN, INFIX, MARKERS, NO_SPACE_AFTER, NO_SPACE_BEFORE, SEPARATOR, UNK_ID

ENDPOINT = "generate"
EXPORTED = tuple(spec for spec in SETTINGS if spec.name != "best_of")  # one recipe a call: no candidates to pick
SECTION_MARKERS = [marker for marker in MARKERS if marker != END_TOKEN]  # a prompt may write these by name

# Character classes in RE2, the syntax of tf.strings.regex_replace, whose \s and \w are ASCII only.
_SPACE = r"\t\n\x{0b}\x{0c}\r\x{1c}-\x{1f}\x{85}\p{Z}"  # what Python's str.isspace() accepts
_WORD = r"\p{L}\p{N}_"  # what Python's \w matches, letters and digits of any script
_CONTROL = r"\x{00}-\x{08}\x{0b}-\x{1f}\x{7f}-\x{9f}\p{Co}"  # control (but tab and newline) and private use


def export_run(run_dir: Path, out: Path, overwrite: bool = False) -> Path:
    """Write the run at ``run_dir`` as a SavedModel directory ``out``, whole or not at all.

    The SavedModel is written inside a temporary directory beside ``out`` and renamed into
    place, so ``out`` is never half written; an old ``out`` is moved aside into that directory
    first (a directory cannot be renamed over a non-empty one) and deleted with it. What is at
    ``out`` is checked again just before, under a lock on its directory: whatever appeared
    there while the model was written (another export's result, a directory made meanwhile) is
    replaced only as ``overwrite`` allows, and two exports never both find ``out`` free.
    """
    out = Path(out)
    refuse_overlap("OUT", out, [("the run", Path(run_dir))])
    _check_destination(out, overwrite)
    refuse_unwritable("OUT", out, out.parent)  # written beside it, then renamed
    archive = build_archive(load_run(run_dir))
    stopping.check()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent) as tmp:
        archive.write_out(str(Path(tmp) / "new"), verbose=False)
        for written in sorted(Path(tmp, "new").rglob("*"), reverse=True):  # files before the directories holding them
            sync(written)
        sync(Path(tmp) / "new")
        stopping.check()  # asked to stop while writing: the temporary directory goes, out stays as it was
        with directory_locked(out.parent):
            _check_destination(out, overwrite)
            if out.exists():
                os.replace(out, Path(tmp) / "old")
            os.replace(Path(tmp) / "new", out)
        sync(out.parent)
    return out


def _check_destination(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not overwrite:
        raise ExportError(f"{out}: already exists (use --overwrite to replace it)")
    if not out.is_dir() or (any(out.iterdir()) and not (out / "saved_model.pb").is_file()):
        raise ExportError(f"{out}: exists and is not a SavedModel directory; not replacing it")


def build_archive(run: Run) -> keras.export.ExportArchive:
    """The run's generator as a Keras ``ExportArchive`` with one endpoint, ``generate``.

    ``tf.saved_model.save`` on a ``tf.Module`` of our own would load the same way; the archive
    is Keras's documented way to serve a Keras model with TensorFlow pre- and post-processing
    around it. It saves the variables the endpoint reads and the lookup table it is told to
    track, and registers the endpoint as the ``serving_default`` signature for TensorFlow
    Serving as well as a function of the loaded object, where a module would need each by hand.
    """
    tokenizer = run.tokenizer
    generator = Generator.from_run(run)
    sample = run.config.sample
    vocabulary = tf.constant(run.vocabulary)  # as the model reads it: markers are symbols at the character level
    names = tf.constant(generator.vocabulary)  # as people read it: markers by name
    ids = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(vocabulary, tf.range(len(run.vocabulary), dtype=tf.int32)),
        default_value=UNK_ID,
    )
    end_id = generator.end_id
    # Traced on its own, as the Generator does, so the batch size is a value the loop reads
    # rather than a constant that fixes the states' shapes before the loop but not inside it.
    decode = tf.function(generator.decoder.decode)

    limit = run.max_tokens()  # long enough for the run's longest training recipe, unless its config says

    def generate(*args: tf.Tensor, **kwargs: tf.Tensor) -> dict[str, tf.Tensor]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        settings = _checked(dict(bound.arguments))
        prompt, max_tokens, seed = settings.pop("prompt"), settings.pop("max_tokens"), settings.pop("seed")
        prompt_tokens = prompt_model_tokens(prompt, tokenizer.level)  # (tokens,) in vocabulary form
        prompt_ids = ids.lookup(prompt_tokens)
        known = tf.debugging.Assert((tf.size(prompt_ids) == 0) | tf.reduce_any(prompt_ids != UNK_ID),
                                    [f"prompt has no {tokenizer.level} in the vocabulary of the model:", prompt])
        with tf.control_dependencies([known]):
            prompt_ids = tf.identity(prompt_ids)
        # An empty prompt starts a recipe from nothing, as in Generator.encode_prompt.
        fed = tf.cond(tf.size(prompt_ids) > 0, lambda: prompt_ids, lambda: tf.constant([end_id]))
        seed = tf.where(seed < 0, tf.random.uniform([], 0, 2**31, dtype=tf.int64), seed)
        row = decode(fed, tf.constant(1), max_tokens, seed, **settings)["tokens"][0]  # (max_tokens,)
        ended = tf.reduce_any(row == end_id)
        length = tf.where(ended, tf.argmax(tf.cast(row == end_id, tf.int32), output_type=tf.int32), max_tokens)
        generated = row[:length]  # (steps,) without the end token
        text = readable(tf.concat([prompt_tokens, tf.gather(vocabulary, generated)], 0), tokenizer.level)
        return {
            "text": text,
            "tokens": tf.gather(names, generated),
            "ended": ended,
            "seed": seed,
            "unknown_words": tf.boolean_mask(prompt_tokens, prompt_ids == UNK_ID),
        }

    # The endpoint's arguments: the prompt, the length, the seed and every setting a single recipe
    # can use, each defaulting to the run's (or to off); TensorFlow reads the names and defaults
    # from this signature, so the loaded model is called with keywords, as the Generator is.
    defaults = {"prompt": sample.prompt, "max_tokens": limit, "seed": -1} | {
        spec.name: getattr(sample, spec.name) if spec in CONFIGURED else spec.off for spec in EXPORTED}
    signature = inspect.Signature([inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
                                   for name, default in defaults.items()])
    generate.__signature__ = signature
    archive = keras.export.ExportArchive()
    # Not track(run.model): the archive saves the variables the endpoint reads by itself, and
    # tracking the model too stores every weight twice (keras-team/keras#23553).
    archive.track(ids)
    endpoint = archive.add_endpoint(ENDPOINT, generate, input_signature=[
        tf.TensorSpec([], tf.string, name="prompt"),
        tf.TensorSpec([], tf.int32, name="max_tokens"),
        tf.TensorSpec([], tf.int64, name="seed"),
        *(tf.TensorSpec([], tf.int32 if spec.kind is int else tf.float32, name=spec.name) for spec in EXPORTED),
    ])
    # Traced here, off the main thread, where a stop is acted on at once: tracing is most of an
    # export's time (seconds), and write_out then reuses the trace and only writes.
    stopping.interruptible(endpoint.get_concrete_function)
    return archive


def _checked(arguments: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The arguments, once they pass the settings' own checks (generation/settings.py): a value out
    of range raises ``InvalidArgumentError`` naming the argument, before anything uses it."""
    max_tokens = arguments["max_tokens"]
    checks = [tf.debugging.Assert((max_tokens >= 1) & (max_tokens <= MAX_TOKENS),
                                  [f"max_tokens must be from 1 to {MAX_TOKENS}, got", max_tokens])]
    checks += [tf.debugging.Assert(spec.accepts(arguments[spec.name]),
                                   [f"{spec.name} must be {spec.config_rule}, got", arguments[spec.name]])
               for spec in EXPORTED]
    with tf.control_dependencies(checks):
        return {name: tf.identity(value) for name, value in arguments.items()}


def prompt_model_tokens(prompt: tf.Tensor, level: str) -> tf.Tensor:
    """A scalar prompt -> its tokens as the vocabulary holds them, like ``Tokenizer.prompt_tokens``.

    Section markers written by name are cut out first and every other piece is standardized on
    its own, so text around a marker can never merge with it.
    """
    pattern = "(" + "|".join(re.escape(marker) for marker in SECTION_MARKERS) + ")"
    pieces = tf.strings.split(tf.strings.regex_replace(prompt, pattern, "\x00\\1\x00"), sep="\x00")
    # Like Tokenizer.prompt_tokens, only a section marker split out above is a marker; any other
    # piece, "<end>" included, is text.
    is_marker = tf.reduce_any(pieces[:, None] == tf.constant(SECTION_MARKERS)[None, :], axis=1)
    if level == "word":
        text = tf.strings.reduce_join(tf.where(is_marker, pieces, standardize_words(pieces)), separator=" ")
        return tf.strings.split(text)
    symbols = pieces
    for marker in SECTION_MARKERS:
        symbols = tf.strings.regex_replace(symbols, f"^{re.escape(marker)}$", CHARS.symbol(marker))
    text = tf.strings.reduce_join(tf.where(is_marker, symbols, standardize_chars(pieces)))
    tokens = tf.strings.unicode_split(text, "UTF-8")
    # A prompt ending in a space or a newline asks for what follows it, so keep that one character.
    last_is_marker = tf.reduce_any(tokens[-1:, None] == tf.constant([CHARS.symbol(m) for m in MARKERS])[None, :])
    keep_space = (tf.size(tokens) > 0) & ~last_is_marker & tf.strings.regex_full_match(prompt, f"(?s).*[{_SPACE}]")
    space = tf.where(tf.strings.regex_full_match(prompt, f"(?s).*\\n[{_SPACE}]*"), "\n", " ")
    return tf.cond(keep_space, lambda: tf.concat([tokens, [space]], 0), lambda: tokens)


def standardize_words(text: tf.Tensor) -> tf.Tensor:
    """``text.standardize`` without NFKC, on a string tensor of any shape."""
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, f"([^{_WORD}{_SPACE}])", r" \1 ")
    return tf.strings.strip(tf.strings.regex_replace(text, f"[{_SPACE}]+", " "))


def standardize_chars(text: tf.Tensor) -> tf.Tensor:
    """``text.standardize_chars`` without NFKC: lines kept, spaces collapsed, blank lines dropped."""
    text = tf.strings.regex_replace(tf.strings.lower(text, encoding="utf-8"), f"[{_CONTROL}]", "")
    text = tf.strings.regex_replace(text, r"[\t\p{Z}]+", " ")  # every space left but the newline
    text = tf.strings.regex_replace(text, r"[ \n]*\n[ \n]*", "\n")
    return tf.strings.regex_replace(text, r"^[ \n]+|[ \n]+$", "")


def readable(tokens: tf.Tensor, level: str) -> tf.Tensor:
    """Tokens (in vocabulary form, without the end token) -> a scalar string for people."""
    if level == "word":
        return _capitalize_sentences(detokenize_words(tokens))
    text = tf.strings.reduce_join(tokens)
    for marker in MARKERS:
        text = tf.strings.regex_replace(text, CHARS.symbol(marker), f" {marker} ")
    return _capitalize_sentences(tf.strings.regex_replace(text, f"^[{_SPACE}]+|[{_SPACE}]+$", ""))


def detokenize_words(tokens: tf.Tensor) -> tf.Tensor:
    """``text.detokenize`` as tensor ops: the same rules, decided for every pair of neighbours at once."""
    def among(marks):
        return tf.reduce_any(tokens[:, None] == tf.constant(sorted(marks))[None, :], axis=1)  # (tokens,)

    punctuation = tf.strings.regex_full_match(tokens, f"[^{_WORD}{_SPACE}]")
    alphanumeric = tf.strings.regex_full_match(tokens, r"[\p{L}\p{N}]+")
    digits = tf.strings.regex_full_match(tokens, r"\p{Nd}+")
    # A mark inside a word or number, 1/2, all-purpose, don't, 1.5, 1,000: (tokens - 2,) for the inner tokens.
    anywhere = among(mark for mark, digits_only in INFIX.items() if not digits_only)
    between_digits = among(mark for mark, digits_only in INFIX.items() if digits_only)
    infix = ((anywhere[1:-1] & alphanumeric[:-2] & alphanumeric[2:])
             | (between_digits[1:-1] & digits[:-2] & digits[2:]))
    infix = tf.concat([[False], infix, [False]], 0)[: tf.size(tokens)]
    separator = tokens == SEPARATOR
    # For each token after the first: is it written without a space before it?  (tokens - 1,)
    joined = ((punctuation[:-1] | punctuation[1:]) & ~(separator[:-1] | separator[1:])
              & (infix[1:] | infix[:-1] | among(NO_SPACE_BEFORE)[1:] | among(NO_SPACE_AFTER)[:-1]))
    spaces = tf.concat([[""], tf.where(joined, "", " ")], 0)[: tf.size(tokens)]
    return tf.strings.reduce_join(spaces + tokens)


def _capitalize_sentences(text: tf.Tensor) -> tf.Tensor:
    """Upper-case the letter starting each sentence or line; RE2 cannot change case, so one letter at a time."""
    for letter in string.ascii_lowercase:
        text = tf.strings.regex_replace(text, f"(?m)(^|[.!?|>][{_SPACE}]+){letter}", f"\\1{letter.upper()}")
    return text
