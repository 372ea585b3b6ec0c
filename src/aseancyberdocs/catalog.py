"""The corpus catalog: checked metadata for every document of the reference corpus.

A document's front page says most of what a citation needs (symbol, title, adoption date,
committee), but extraction is fallible and statements print nothing machine-readable. The
catalog (``data/catalog.csv``, shipped with the package) records the checked values once per
file, keyed by the file's sha256, and ``load_document`` uses them to complete or correct what
it read.

The catalog also lists documents the corpus cannot bundle (the GGE and OEWG reports, ASEAN
statements): their rows have an empty ``sha256``. Nothing pins their bytes, because no copy was
ever checked here; ``corpus fetch`` downloads them from ``source_url`` to the row's ``path``, and
``load_document`` then finds their metadata by file name.
"""

from __future__ import annotations

import csv
import datetime as _dt
import os
import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from .errors import CatalogError

COLUMNS: tuple[str, ...] = ("path", "doc_id", "symbol", "title", "date", "doc_type", "body", "source_url", "sha256")
"""The catalog's columns, in the order the shipped file writes them."""

DOC_TYPES: frozenset[str] = frozenset(
    {
        "resolution",
        "draft resolution",
        "draft decision",
        "report",
        "convention",
        "leaders' statement",
        "chairman's statement",
        "joint statement",
        "declaration",
        "news",
    }
)
"""The values ``doc_type`` may take."""

_REQUIRED = ("path", "doc_id", "title", "doc_type")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One catalogued document. Empty optional cells are ``None``.

    ``path`` is relative to the corpus root, with "/" separators ("un/pdf/A_RES_80_16.pdf").
    ``sha256`` is None for a document the corpus does not bundle (see ``bundled``).
    """

    path: str
    doc_id: str
    symbol: str | None
    title: str
    date: str | None
    doc_type: str
    body: str | None
    source_url: str | None
    sha256: str | None

    @property
    def bundled(self) -> bool:
        """True when the corpus ships this file (its sha256 is pinned); False for a document to fetch.

        Example:
            >>> Catalog.load().get("A/70/174").bundled
            False
        """
        return self.sha256 is not None

    @property
    def name(self) -> str:
        """The file name, the fallback key of ``Catalog.lookup``."""
        return PurePosixPath(self.path).name

    def to_metadata(self) -> dict[str, Any]:
        """The fields a ``Document`` takes from the catalog (everything but ``path`` and ``sha256``).

        Example:
            >>> entry = Catalog.load().get("A/RES/80/16")
            >>> entry.to_metadata()["body"]
            'UN General Assembly, First Committee'
        """
        data = asdict(self)
        del data["path"], data["sha256"]
        return data

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Catalog:
    """The catalogued documents, looked up by sha256, by file name or by ``doc_id``.

    Example:
        >>> catalog = Catalog.load()
        >>> catalog.lookup(Path("corpus/un/pdf/A_RES_80_16.pdf")).date
        '2025-12-01'
    """

    def __init__(self, entries: tuple[CatalogEntry, ...] | list[CatalogEntry], source: str = "<catalog>") -> None:
        """Index ``entries``; raises CatalogError when two share a path, doc_id, sha256 or file name."""
        self.entries: tuple[CatalogEntry, ...] = tuple(entries)
        self.source = source
        keys = _unique_keys([(source, entry) for entry in self.entries])
        self._by_sha, self._by_name, self._by_id = keys["sha256"], keys["file name"], keys["doc_id"]

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Catalog:
        """Read a catalog CSV file; by default the catalog of the reference corpus shipped with the package.

        Args:
            path: a CSV file with the columns of ``COLUMNS`` (any order, all present, no others).

        Returns:
            The catalog.

        Raises:
            CatalogError: the file is missing, unreadable or malformed; the message names the
                file and, for a bad row, its line.

        Example:
            >>> catalog = Catalog.load()
            >>> len([entry for entry in catalog if entry.bundled])
            293
        """
        if path is None:
            resource = resources.files(__package__).joinpath("data", "catalog.csv")
            source = str(resource)
            opener = resource.open
        else:
            source = os.fspath(path)
            opener = Path(source).open
        try:
            with opener("r", encoding="utf-8", newline="") as handle:
                located = _read_entries(handle, source)
        except FileNotFoundError as exc:
            raise CatalogError(f"{source}: no such catalog file") from exc
        except UnicodeDecodeError as exc:
            raise CatalogError(f"{source}: not UTF-8 text ({exc.reason})") from exc
        except OSError as exc:
            raise CatalogError(f"{source}: cannot read ({exc.strerror or exc})") from exc
        _unique_keys(located)  # reports a duplicate with its line
        return cls([entry for _, entry in located], source)

    def lookup(self, path: str | os.PathLike[str], sha256: str | None = None) -> CatalogEntry | None:
        """The entry for a file: the one with this sha256, else the one with this file name, else None.

        The file is not read: pass its ``sha256`` to match by content (a renamed copy is still
        found); without it, only the file name is compared.

        Example:
            >>> Catalog.load().lookup("elsewhere/A_RES_79_243.pdf").doc_type
            'convention'
        """
        if sha256:
            entry = self._by_sha.get(sha256.lower())
            if entry is not None:
                return entry
        return self._by_name.get(Path(path).name)

    def get(self, doc_id: str) -> CatalogEntry | None:
        """The entry with this ``doc_id`` ("A/RES/73/27", a statement's file stem), or None."""
        return self._by_id.get(doc_id)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"Catalog({len(self.entries)} entries from {self.source})"


def _unique_keys(located: list[tuple[str, CatalogEntry]]) -> dict[str, dict[str, CatalogEntry]]:
    """Entries by path, doc_id, sha256 and file name; a CatalogError on the first duplicate."""
    keys: dict[str, dict[str, CatalogEntry]] = {"path": {}, "doc_id": {}, "sha256": {}, "file name": {}}
    for where, entry in located:
        for key, value in (("path", entry.path), ("doc_id", entry.doc_id), ("sha256", entry.sha256), ("file name", entry.name)):
            if value is None:  # a document not bundled pins no sha256
                continue
            if value in keys[key]:
                raise CatalogError(f"{where}: duplicate {key} {value!r} (also {keys[key][value].path})")
            keys[key][value] = entry
    return keys


def _read_entries(handle: Any, source: str) -> list[tuple[str, CatalogEntry]]:
    """Parse and check the rows of an open catalog file: (``"<file>, line N"``, entry) pairs."""
    reader = csv.reader(handle, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise CatalogError(f"{source}: empty file, expected a header line")
        missing = [name for name in COLUMNS if name not in header]
        unknown = [name for name in header if name not in COLUMNS]
        if missing or unknown or len(set(header)) != len(header):
            raise CatalogError(
                f"{source}, line 1: header must name the columns {', '.join(COLUMNS)} once each"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(unknown)}" if unknown else "")
            )
        entries = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            where = f"{source}, line {reader.line_num}"
            if len(row) != len(header):
                raise CatalogError(f"{where}: {len(row)} fields, expected {len(header)}")
            entries.append((where, _entry(dict(zip(header, row)), where)))
    except csv.Error as exc:
        raise CatalogError(f"{source}, line {reader.line_num}: {exc}") from exc
    return entries


def _entry(cells: dict[str, str], where: str) -> CatalogEntry:
    """One checked row; ``where`` names the file and line for errors."""
    cells = {key: value.strip() for key, value in cells.items()}
    for key in _REQUIRED:
        if not cells[key]:
            raise CatalogError(f"{where}: empty {key}")
    path = cells["path"]
    pure = PurePosixPath(path)
    if "\\" in path or pure.is_absolute() or ".." in pure.parts:
        raise CatalogError(f"{where}: path must be relative to the corpus root with '/' separators, got {path!r}")
    if cells["doc_type"] not in DOC_TYPES:
        raise CatalogError(f"{where}: unknown doc_type {cells['doc_type']!r}; expected one of {', '.join(sorted(DOC_TYPES))}")
    if cells["sha256"] and not _SHA256.fullmatch(cells["sha256"]):
        raise CatalogError(f"{where}: sha256 must be 64 lowercase hex digits, got {cells['sha256']!r}")
    date = cells["date"]
    if date:
        try:
            if not _ISO_DATE.fullmatch(date):
                raise ValueError(date)
            _dt.date.fromisoformat(date)
        except ValueError as exc:
            raise CatalogError(f"{where}: date must be an ISO date YYYY-MM-DD, got {date!r}") from exc
    return CatalogEntry(
        path=path,
        doc_id=cells["doc_id"],
        symbol=cells["symbol"] or None,
        title=cells["title"],
        date=date or None,
        doc_type=cells["doc_type"],
        body=cells["body"] or None,
        source_url=cells["source_url"] or None,
        sha256=cells["sha256"] or None,
    )
