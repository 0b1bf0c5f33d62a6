import numpy as np

from recipegen.pipeline import PAD_ID, adapt_vocabulary, count_targets, encode, make_dataset, make_windows
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


def test_windows_make_every_token_after_the_first_a_target_once():
    sequences = [np.arange(1, 24, dtype=np.int32), np.array([5, 6], dtype=np.int32), np.array([7], dtype=np.int32)]
    windows = make_windows(sequences, sequence_length=8)
    assert windows.shape[1] == 9
    targets = [t for row in windows for t in row[1:] if t != PAD_ID]
    assert sorted(targets) == sorted(list(range(2, 24)) + [6])
    assert count_targets(windows) == 23  # 22 + 1; the one-token sequence has no target


def test_long_sequences_keep_their_ending():
    windows = make_windows([np.arange(1, 30, dtype=np.int32)], sequence_length=8)
    assert 29 in windows[-1]


def test_dataset_shifts_by_one_and_weights_padding_zero():
    windows = make_windows([np.array([4, 5, 6], dtype=np.int32)], sequence_length=4)
    inputs, targets, weights = next(iter(make_dataset(windows, batch_size=2, shuffle=False)))
    assert inputs.numpy().tolist() == [[4, 5, 6, 0]]
    assert targets.numpy().tolist() == [[5, 6, 0, 0]]
    assert weights.numpy().tolist() == [[1, 1, 0, 0]]


def test_shuffle_reorders_windows_not_tokens_within_them():
    windows = make_windows([np.arange(1 + 10 * i, 9 + 10 * i, dtype=np.int32) for i in range(20)], sequence_length=7)
    dataset = make_dataset(windows, batch_size=20, shuffle=True, seed=1)
    first, _, _ = next(iter(dataset))
    rows = {tuple(row) for row in first.numpy().tolist()}
    assert rows == {tuple(row[:-1]) for row in windows.tolist()}
    assert [row[0] for row in first.numpy()] != sorted(row[0] for row in first.numpy())
