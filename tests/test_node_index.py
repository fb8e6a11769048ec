"""NodeIndex against a plain dict: ids in order of first sight, growth, resume."""

from __future__ import annotations

import numpy as np
import pytest

from linkgraph.storage.node_index import NodeIndex


def reference_ids(ref: dict[int, int], keys: np.ndarray) -> tuple[list[int], list[bool]]:
    """What ids_for must return, computed with a dict."""
    ids, new = [], []
    for key in keys.tolist():
        new.append(key not in ref)
        ids.append(ref.setdefault(key, len(ref)))
    return ids, new


def check_batch(index: NodeIndex, ref: dict[int, int], keys: np.ndarray) -> None:
    ids, is_new = index.ids_for(keys)
    want_ids, want_new = reference_ids(ref, keys)
    assert ids.dtype == np.int32 and is_new.dtype == np.bool_
    assert ids.tolist() == want_ids
    assert is_new.tolist() == want_new
    assert index.size == len(ref)


def test_random_batches_with_repeats_match_a_dict():
    rng = np.random.default_rng(1)
    index, ref = NodeIndex(), {}
    pool = rng.integers(-2**63, 2**63 - 1, 3000, dtype=np.int64)
    for _ in range(40):
        # Draws from a small pool: many repeats within a batch and across batches.
        check_batch(index, ref, rng.choice(pool, rng.integers(1, 500)))


def test_growth_across_many_batches():
    rng = np.random.default_rng(2)
    index, ref = NodeIndex(capacity=16), {}
    for _ in range(60):
        check_batch(index, ref, rng.integers(-2**63, 2**63 - 1, 2000, dtype=np.int64))
    assert index.size == 120_000
    # Load stays at most 1/2 after growing from the smallest table.
    assert len(index._ids) >= 2 * index.size
    everything = np.array(list(ref), dtype=np.int64)
    ids, is_new = index.ids_for(everything)
    assert ids.tolist() == list(range(120_000)) and not is_new.any()


def test_clustered_keys_zero_and_negative():
    # Sequential and clustered keys would pile up in a table without a mixer.
    index, ref = NodeIndex(), {}
    check_batch(index, ref, np.arange(-5000, 5000, dtype=np.int64))
    check_batch(index, ref, np.array([0, -1, 2**63 - 1, -2**63, 0, -1], dtype=np.int64))
    check_batch(index, ref, np.arange(0, 1 << 40, 1 << 28, dtype=np.int64))
    assert ref[0] == 5000 and index.ids_for(np.array([0]))[0].tolist() == [5000]


def test_a_key_repeated_in_a_batch_is_new_once():
    index = NodeIndex()
    ids, is_new = index.ids_for(np.array([7, 3, 7, 7, 3, 9], dtype=np.int64))
    assert ids.tolist() == [0, 1, 0, 0, 1, 2]
    assert is_new.tolist() == [True, True, False, False, False, True]
    ids, is_new = index.ids_for(np.array([9, 4, 4, 7], dtype=np.int64))
    assert ids.tolist() == [2, 3, 3, 0] and is_new.tolist() == [False, True, False, False]


def test_empty_batch():
    index = NodeIndex()
    ids, is_new = index.ids_for(np.array([], dtype=np.int64))
    assert ids.shape == (0,) and is_new.shape == (0,) and index.size == 0
    index.ids_for(np.array([5], dtype=np.int64))
    ids, _ = index.ids_for(np.zeros(0, dtype=np.int64))
    assert len(ids) == 0 and index.size == 1


def test_load_round_trip_then_continue():
    rng = np.random.default_rng(3)
    index, ref = NodeIndex(), {}
    for _ in range(5):
        check_batch(index, ref, rng.integers(-50_000, 50_000, 4000, dtype=np.int64))
    # What the pipeline reads back from nodes parts: (url_key, node_id), here shuffled.
    keys = np.array(list(ref), dtype=np.int64)
    ids = np.array(list(ref.values()), dtype=np.int32)
    order = rng.permutation(len(keys))
    resumed = NodeIndex()
    resumed.load(keys[order], ids[order])
    assert resumed.size == index.size
    for _ in range(5):
        batch = rng.integers(-60_000, 60_000, 4000, dtype=np.int64)
        got_ids, got_new = resumed.ids_for(batch)
        want_ids, want_new = index.ids_for(batch)
        assert got_ids.tolist() == want_ids.tolist() and got_new.tolist() == want_new.tolist()


def test_load_empty_and_replaces_contents():
    index = NodeIndex()
    index.ids_for(np.array([1, 2, 3], dtype=np.int64))
    index.load(np.array([], dtype=np.int64), np.array([], dtype=np.int32))
    assert index.size == 0
    assert index.ids_for(np.array([3], dtype=np.int64))[0].tolist() == [0]


@pytest.mark.parametrize("keys, ids, message", [
    ([1, 2, 3], [0, 1, 3], "not exactly 0..2"),
    ([1, 2, 3], [0, 1, 1], "not exactly 0..2"),
    ([1, 2, 3], [-1, 0, 1], "not exactly 0..2"),
    ([1, 2, 1], [0, 1, 2], "more than one id"),
    ([1, 2], [0], "2 keys but 1 ids"),
])
def test_load_refuses_what_the_index_cannot_have_written(keys, ids, message):
    with pytest.raises(ValueError, match=message):
        NodeIndex().load(np.array(keys, dtype=np.int64), np.array(ids, dtype=np.int32))
