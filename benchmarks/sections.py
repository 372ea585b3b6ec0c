"""The marked sections of benchmarks/RESULTS.md: each benchmark script writes its own.

A section runs from ``<!-- NAME:begin -->`` to ``<!-- NAME:end -->``; writing one replaces that
section and leaves the rest of the file as it was (``run.py`` keeps them when it rewrites its own
part), or appends it when the file has none yet. The scripts run as ``python3 benchmarks/NAME.py``,
so this module is imported from their folder (``from sections import write_section``).
"""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, begin: str, end: str, block: str) -> None:
    """Put ``block`` (from ``begin`` to ``end``, markers included) in place of that section of ``path``."""
    block = block.strip("\n")
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
