"""NumPy .npy files read without ``ast``: ``np.load`` parses the header with ``ast.literal_eval``,
which CPython 3.11 cannot run in two threads at once ("AST constructor recursion depth mismatch",
CPython issue 106905): an index opened in one thread while another builds would fail at random.

Example:
    >>> import io
    >>> buffer = io.BytesIO(); np.save(buffer, np.arange(3, dtype=np.int32))
    >>> array_from_bytes(buffer.getvalue()).tolist()
    [0, 1, 2]
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

_MAGIC = b"\x93NUMPY"
_HEADER = re.compile(
    r"\{\s*'descr':\s*'(?P<descr>[<>|=]?[a-zA-Z]\d*)',\s*'fortran_order':\s*(?P<fortran>True|False),"
    r"\s*'shape':\s*\((?P<shape>[\d,\s]*)\),?\s*\}\s*$"
)


def read_header(start: bytes) -> tuple[np.dtype, bool, tuple[int, ...], int]:
    """(dtype, Fortran order, shape, data offset) from the first bytes of a .npy file.

    Raises:
        ValueError: not a .npy header of the form ``np.save`` writes.
    """
    if not start.startswith(_MAGIC) or len(start) < 10:
        raise ValueError("not a .npy file")
    major = start[6]
    if major == 1:
        length, begin = int.from_bytes(start[8:10], "little"), 10
    elif major in (2, 3) and len(start) >= 12:
        length, begin = int.from_bytes(start[8:12], "little"), 12
    else:
        raise ValueError(f"unknown .npy version {major}")
    if len(start) < begin + length:
        raise ValueError("the .npy header is cut short")
    header = start[begin : begin + length].decode("utf-8" if major == 3 else "latin1")
    match = _HEADER.match(header.strip())
    if match is None:
        raise ValueError(f"unexpected .npy header {header.strip()!r}")
    shape = tuple(int(part) for part in match["shape"].replace(" ", "").split(",") if part)
    return np.dtype(match["descr"]), match["fortran"] == "True", shape, begin + length


def _numbers(start: bytes, size: int) -> tuple[np.dtype, bool, tuple[int, ...], int, int]:
    """``read_header`` of a file of ``size`` bytes, and its count of items, checked: numbers only,
    and as many bytes of data as the header says."""
    dtype, fortran, shape, offset = read_header(start)
    if dtype.hasobject:
        raise ValueError("a .npy file of Python objects")
    count = int(np.prod(shape)) if shape else 1
    if size - offset != count * dtype.itemsize:
        raise ValueError(f"{size - offset} bytes of data for shape {shape} of {dtype}")
    return dtype, fortran, shape, offset, count


def array_from_bytes(data: bytes) -> np.ndarray:
    """The array of a whole .npy file's bytes (numbers only; never a pickle).

    Raises:
        ValueError: not a .npy file of numbers, or its size does not match its header.
    """
    dtype, fortran, shape, offset, count = _numbers(data[:65536], len(data))
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order="F" if fortran else "C")


def memory_mapped(path: str | Path) -> np.ndarray:
    """The array of a .npy file, memory-mapped read-only (``np.load(path, mmap_mode="r")``
    without ``ast``).

    Raises:
        OSError: the file cannot be read.
        ValueError: not a .npy file of numbers, or its size does not match its header.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        start = handle.read(65536)
    dtype, fortran, shape, offset, count = _numbers(start, path.stat().st_size)
    if count == 0:  # nothing to map
        empty = np.zeros(shape, dtype=dtype)
        empty.flags.writeable = False
        return empty
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


def load(path: str | Path) -> np.ndarray:
    """The array of a .npy file, read whole (``np.load(path)`` without ``ast``)."""
    return array_from_bytes(Path(path).read_bytes())
