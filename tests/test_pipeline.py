import numpy as np
import pytest

from recipegen.pipeline import (
    PAD_ID,
    adapt_vocabulary,
    count_targets,
    encode,
    epoch_windows,
    make_dataset,
    pack_windows,
    pad_windows,
)
from recipegen.text import END_TOKEN


def test_vocabulary_keeps_padding_unknown_and_end_token_even_when_tiny():
    texts = [f"the the the the salt salt pepper {END_TOKEN}"] * 3
    vocabulary = adapt_vocabulary(texts, vocab_size=4)
    assert vocabulary[:2] == ["", "[UNK]"]
    assert END_TOKEN in vocabulary and len(vocabulary) == 4


def test_encode_maps_unknown_words_to_unk():
    vocabulary = ["", "[UNK]", END_TOKEN, "salt"]
    (ids,) = encode([f"salt pepper {END_TOKEN}"], vocabulary)
    assert ids.tolist() == [3, 1, 2]


def test_packed_windows_make_every_token_after_the_first_a_target_once():
    sequences = [np.arange(1, 24, dtype=np.int32), np.array([5, 6], dtype=np.int32), np.array([7], dtype=np.int32)]
    windows = pack_windows(sequences, sequence_length=8)
    assert windows.shape[1] == 9
    targets = [t for row in windows for t in row[1:] if t != PAD_ID]
    assert sorted(targets) == sorted(list(range(2, 24)) + [5, 6, 7])  # the stream's tokens after its first
    assert count_targets(windows) == 25


def test_long_sequences_keep_their_ending():
    windows = pack_windows([np.arange(1, 30, dtype=np.int32)], sequence_length=8)
    assert 29 in windows[-1]


def test_dataset_shifts_by_one_and_weights_padding_zero():
    windows = pad_windows([np.array([4, 5, 6], dtype=np.int32)], sequence_length=4)
    inputs, targets, weights = next(iter(make_dataset(windows, batch_size=2)))
    assert inputs.numpy().tolist() == [[4, 5, 6, 0]]
    assert targets.numpy().tolist() == [[5, 6, 0, 0]]
    assert weights.numpy().tolist() == [[1, 1, 0, 0]]


def recipes(n=20):
    return [np.arange(1 + 10 * i, 4 + 10 * i + i % 5, dtype=np.int32) for i in range(n)]  # lengths 3 to 7


def test_packing_trains_every_token_once_with_no_padding_but_the_last_window():
    sequences = recipes()
    windows = pack_windows(sequences, sequence_length=8)
    stream = np.concatenate(sequences)
    assert count_targets(windows) == len(stream) - 1
    assert np.count_nonzero(windows[:-1] == PAD_ID) == 0
    rebuilt = np.concatenate([windows[0]] + [row[1:] for row in windows[1:]])
    assert rebuilt[: len(stream)].tolist() == stream.tolist()


def test_pad_pipeline_truncates_like_the_book():
    windows = pad_windows([np.arange(1, 30, dtype=np.int32), np.array([3, 4], dtype=np.int32)], sequence_length=8)
    assert windows.tolist() == [list(range(1, 10)), [3, 4, 0, 0, 0, 0, 0, 0, 0]]


def test_epoch_order_depends_on_the_seed_alone():
    sequences = recipes()
    first = epoch_windows(sequences, 8, "pack", seed=(1, 0))
    assert (first == epoch_windows(sequences, 8, "pack", seed=(1, 0))).all()
    second_epoch = epoch_windows(sequences, 8, "pack", seed=(1, 1))
    assert first.tolist() != second_epoch.tolist()
    assert count_targets(first) == count_targets(second_epoch)  # same tokens, new order and boundaries
    padded = epoch_windows(sequences, 8, "pad", seed=(1, 0))
    assert sorted(map(tuple, padded.tolist())) == sorted(map(tuple, pad_windows(sequences, 8).tolist()))
    with pytest.raises(ValueError, match="pipeline must be one of pack, pad"):
        epoch_windows(sequences, 8, "bucket", seed=0)


def test_character_vocabulary_and_encoding():
    from recipegen.templates import template_markers
    from recipegen.text import CHARS, DIRECTIONS

    texts = [CHARS.model_text(["ab a", DIRECTIONS, "b", END_TOKEN])] * 3
    vocabulary = adapt_vocabulary(texts, vocab_size=20, tokenizer=CHARS, markers=template_markers("full"))
    assert vocabulary[:2] == ["", "[UNK]"] and all(len(token) == 1 for token in vocabulary[2:])
    assert {CHARS.symbol(m) for m in template_markers("full")} <= set(vocabulary), "rare markers are kept"
    (ids,) = encode([texts[0]], vocabulary, CHARS)
    assert [CHARS.name(vocabulary[i]) for i in ids] == ["a", "b", " ", "a", DIRECTIONS, "b", END_TOKEN]
