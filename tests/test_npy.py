""".npy files read without ast: the arrays np.save writes, and nothing else."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from aseancyberdocs.npy import array_from_bytes, load, memory_mapped, read_header


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


@pytest.mark.parametrize(
    "array",
    [
        np.arange(7, dtype=np.int32),
        np.arange(12, dtype=np.int64).reshape(3, 4),
        np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        np.zeros((0, 384), dtype=np.float32),
    ],
)
def test_files_read_whole_or_mapped_as_numpy_reads_them(tmp_path, array):
    path = tmp_path / "a.npy"
    np.save(path, array)
    np.testing.assert_array_equal(load(path), np.load(path))
    mapped = memory_mapped(path)
    np.testing.assert_array_equal(mapped, np.load(path, mmap_mode="r"))
    assert mapped.dtype == array.dtype and mapped.shape == array.shape and not mapped.flags.writeable


def test_a_cut_file_is_refused_when_mapped(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(10, dtype=np.int32))
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ValueError, match="bytes of data"):
        memory_mapped(path)


def test_the_library_reads_no_npy_file_with_numpys_parser():
    # np.load parses the header with ast, which CPython 3.11 cannot run in two threads at once:
    # an index opened in one thread while another builds failed at random.
    import re

    source = Path(__file__).resolve().parents[1] / "src" / "aseancyberdocs"
    calls = [f"{path.name}:{number}" for path in source.rglob("*.py") if path.name != "npy.py"
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"\bnp\.load\(|numpy\.load\(|literal_eval|open_memmap", line)]
    assert not calls, calls
