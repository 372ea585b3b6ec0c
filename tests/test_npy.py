""".npy files read without ast: the arrays np.save writes, and nothing else."""

from __future__ import annotations

import io

import numpy as np
import pytest

from aseancyberdocs.npy import array_from_bytes, read_header


def _saved(array: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "array",
    [
        np.arange(7, dtype=np.int32),
        np.arange(12, dtype=np.int64).reshape(3, 4),
        np.random.default_rng(1).normal(size=(5, 16)).astype(np.float32),
        np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        np.zeros((0, 384), dtype=np.float32),
        np.array(3.5),
    ],
)
def test_arrays_read_back_as_numpy_reads_them(array):
    data = _saved(array)
    np.testing.assert_array_equal(array_from_bytes(data), np.load(io.BytesIO(data)))
    assert array_from_bytes(data).dtype == array.dtype


def test_a_pickle_or_a_cut_file_is_refused():
    with pytest.raises(ValueError, match="Python objects"):
        array_from_bytes(_saved(np.array([{"a": 1}], dtype=object), allow_pickle=True))
    data = _saved(np.arange(10, dtype=np.int32))
    with pytest.raises(ValueError, match="bytes of data"):
        array_from_bytes(data[:-4])
    with pytest.raises(ValueError, match="not a .npy file"):
        array_from_bytes(b"PK\x03\x04 not numpy")
    with pytest.raises(ValueError, match="unexpected .npy header"):
        read_header(data[:10] + data[10:].replace(b"'descr'", b"'evil()'"))
