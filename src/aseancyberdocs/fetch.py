"""Download the reference corpus from the official URLs of the catalog, and check a folder against it.

Every download is bounded (a timeout per read and for the whole file, a size limit), checked
(content type and magic bytes: ``%PDF`` for a PDF, markup for a web page; the catalog's sha256
where it pins the bytes served) and written atomically (a hidden temporary file in the target
folder, then ``os.replace``), so a failed or interrupted download never leaves a partial file
under the catalog's name. Target paths come from the catalog and are refused when absolute or
when they would leave the destination folder.

A file is saved under the folder and extension of what was actually served. The catalog pins
the sha256 of the file in the corpus; for a PDF that is the file the URL serves. Statements are
kept as Markdown made from their web page, and a few resolutions as text extracts: their URL
serves the page or the PDF the file was made from, so the download is saved as that (a
statement's page as ``statements/<name>.html``; a text extract's PDF as ``un/pdf/<name>.pdf``,
beside the other PDFs, not as ``un/text/<name>.pdf``) and cannot be pinned. Documents the corpus
does not bundle (an empty sha256 in the catalog) are saved at their catalogued path, unpinned.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import AseanCyberDocsError
from .folder import sha256_file

if TYPE_CHECKING:
    from .catalog import Catalog, CatalogEntry

__all__ = ["FetchError", "FetchResult", "VerifyReport", "fetch_corpus", "verify_corpus", "target_path"]

logger = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 100 * 2**20
"""A larger download is abandoned: the largest document of the corpus is a few MiB."""
TIMEOUT = 30.0
"""Seconds to wait for the server to answer or to send the next bytes."""
TOTAL_TIMEOUT = 300.0
"""Seconds one download may take in all (a server that trickles bytes is dropped)."""

_PDF_TYPES = ("application/pdf", "application/x-pdf", "application/octet-stream", "binary/octet-stream")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# What each catalogued format may be served as: a UN document (PDF or its text extract) only as a
# PDF; a statement kept as Markdown or HTML as its web page, or as the PDF the issuer published.
_SERVED_KINDS = {".pdf": ("pdf",), ".txt": ("pdf",), ".md": ("html", "pdf"), ".markdown": ("html", "pdf"), ".html": ("html", "pdf"), ".htm": ("html", "pdf")}
_KIND_SUFFIX = {"pdf": ".pdf", "html": ".html"}
# Folders named after a format ("un/pdf", "un/text") hold files of that format only.
_FORMAT_FOLDERS = frozenset({"pdf", "text", "html"})

Progress = Callable[[str, int, int], None]


class FetchError(AseanCyberDocsError):
    """A download failed or was refused (timeout, size, content type, checksum, unsafe path)."""


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What happened to one catalogued document: ``status`` is "fetched", "present", "failed" or "skipped".

    "skipped": a document the corpus does not bundle and the catalog gives no URL for, met while
    fetching everything (named with ``only``, it is "failed"). ``path`` is where the file is or
    would be saved, relative to the destination folder.
    """

    doc_id: str
    path: str
    status: str
    message: str = ""
    url: str | None = None
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """A folder compared with the catalog: paths (relative, "/" separators) by outcome.

    ``unpinned`` holds files present with no checksum to compare: downloaded sources of catalogued
    derived files (a statement's saved page where the catalog pins its Markdown) and fetched
    documents the corpus does not bundle. ``not_fetched`` holds the catalog paths of documents the
    corpus does not bundle and the folder does not hold (``corpus fetch`` gets them); they do not
    make the folder incomplete.
    """

    folder: str
    ok: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    unpinned: tuple[str, ...] = ()
    not_fetched: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when nothing is missing or changed (extra files are allowed)."""
        return not self.missing and not self.changed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.complete}


def target_path(dest: str | os.PathLike[str], relative: str) -> Path:
    """Where ``relative`` (a catalog path) lies under ``dest``; FetchError if it would leave ``dest``.

    Example:
        >>> target_path("corpus", "un/pdf/A_RES_73_27.pdf").as_posix()
        'corpus/un/pdf/A_RES_73_27.pdf'
        >>> target_path("corpus", "../etc/passwd")
        Traceback (most recent call last):
        ...
        aseancyberdocs.fetch.FetchError: unsafe path '../etc/passwd': must stay inside corpus
    """
    pure = PurePosixPath(relative)
    if (
        not relative
        or "\\" in relative
        or "\x00" in relative
        or pure.is_absolute()
        or any(part in ("..", "") for part in pure.parts)
        or relative.startswith("~")
        or (len(pure.parts) > 0 and ":" in pure.parts[0])
    ):
        raise FetchError(f"unsafe path {relative!r}: must stay inside {dest}")
    base = Path(dest)
    target = base.joinpath(*pure.parts)
    # A symbolic link inside dest must not lead the write elsewhere either.
    root = base.resolve()
    resolved = target.resolve()
    if resolved != root and root not in resolved.parents:
        raise FetchError(f"unsafe path {relative!r}: leads outside {dest} (through a symbolic link?)")
    return target


def fetch_corpus(
    dest: str | os.PathLike[str],
    *,
    only: Iterable[str] | None = None,
    catalog: Catalog | None = None,
    timeout: float = TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
    max_bytes: int | None = None,
    progress: Progress | None = None,
) -> list[FetchResult]:
    """Download the catalogued documents missing from ``dest``, bundled or not.

    A file already present is left alone (``corpus verify`` tells whether it is the catalogued
    one). A failed download is reported, not raised, and the others go on. A document without a
    URL in the catalog is "skipped" when fetching everything, "failed" when named in ``only``.

    Args:
        dest: the corpus folder (created if needed).
        only: doc_ids or catalog paths to fetch; default all.
        catalog: default the catalog shipped with the library.
        timeout: seconds to wait for a response or the next bytes.
        total_timeout: seconds one download may take in all.
        max_bytes: size limit of one download (default ``MAX_DOWNLOAD_BYTES``).
        progress: called as ``progress("fetch", done, total)``.

    Returns:
        One FetchResult per document considered, in catalog order.

    Raises:
        ValueError: ``only`` names a document the catalog does not hold.

    Example:
        >>> results = fetch_corpus("corpus", only=["A/RES/73/27"])  # doctest: +SKIP
        >>> results[0].status  # doctest: +SKIP
        'fetched'
    """
    if catalog is None:
        from .catalog import Catalog

        catalog = Catalog.load()
    limit = MAX_DOWNLOAD_BYTES if max_bytes is None else max_bytes
    entries = _select(catalog, only)
    results = []
    for done, entry in enumerate(entries, start=1):
        results.append(
            _fetch_one(Path(dest), entry, timeout=timeout, total_timeout=total_timeout, max_bytes=limit, named=only is not None)
        )
        if progress is not None:
            progress("fetch", done, len(entries))
    return results


def verify_corpus(folder: str | os.PathLike[str], *, catalog: Catalog | None = None) -> VerifyReport:
    """Compare ``folder`` with the catalog: which files are there unchanged, missing, changed or extra.

    Example:
        >>> report = verify_corpus("corpus")  # doctest: +SKIP
        >>> report.complete, len(report.ok)  # doctest: +SKIP
        (True, 293)
    """
    from .sources import SUPPORTED_SUFFIXES

    if catalog is None:
        from .catalog import Catalog

        catalog = Catalog.load()
    root = Path(folder)
    if not root.is_dir():
        raise FetchError(f"no such folder: {root}")
    ok, missing, changed, unpinned, not_fetched = [], [], [], [], []
    known: set[str] = set()
    for entry in catalog:
        candidates = _candidate_paths(entry)
        known.update(candidates)
        path = root.joinpath(*PurePosixPath(entry.path).parts)
        served = [other for other in candidates[1:] if root.joinpath(*PurePosixPath(other).parts).is_file()]
        if path.is_file() and entry.sha256:
            (ok if sha256_file(path) == entry.sha256 else changed).append(entry.path)
        elif path.is_file():
            unpinned.append(entry.path)
        elif served:
            unpinned.append(served[0])
        elif entry.bundled:
            missing.append(entry.path)
        else:
            not_fetched.append(entry.path)
    extra = sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file()
        and path.suffix.lower() in SUPPORTED_SUFFIXES
        and not path.name.lower().startswith("readme.")  # describes the folder, as find_sources reads it
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
        and path.relative_to(root).as_posix() not in known
    )
    return VerifyReport(str(root), tuple(ok), tuple(missing), tuple(changed), tuple(extra), tuple(unpinned), tuple(not_fetched))


# --------------------------------------------------------------------------------------------


def _select(catalog: Catalog, only: Iterable[str] | None) -> list[CatalogEntry]:
    entries = list(catalog)
    if only is None:
        return entries
    wanted = list(dict.fromkeys(only))
    by_key = {key: entry for entry in entries for key in (entry.doc_id, entry.path)}
    unknown = [item for item in wanted if item not in by_key]
    if unknown:
        raise ValueError(f"not in the catalog: {', '.join(repr(item) for item in unknown)}")
    chosen = {by_key[item].path for item in wanted}
    return [entry for entry in entries if entry.path in chosen]


def _served_path(entry: CatalogEntry, kind: str) -> str:
    """Where a download of ``kind`` ("pdf", "html") is saved: the catalog path with the folder and
    suffix of that kind ("un/text/A_RES_73_27.txt" served as a PDF: "un/pdf/A_RES_73_27.pdf")."""
    pure = PurePosixPath(entry.path)
    suffix = _KIND_SUFFIX[kind]
    parent = pure.parent
    if parent.name in _FORMAT_FOLDERS and parent.name != kind:
        parent = parent.with_name(kind)
    served = parent / (pure.stem + suffix)
    return entry.path if served == pure.with_suffix(pure.suffix.lower()) else served.as_posix()


def _candidate_paths(entry: CatalogEntry) -> list[str]:
    """The catalog path, then every path a download of this entry may have been saved under."""
    paths = [entry.path]
    for kind in _SERVED_KINDS.get(PurePosixPath(entry.path).suffix.lower(), ("pdf",)):
        served = _served_path(entry, kind)
        if served not in paths:
            paths.append(served)
    return paths


def _fetch_one(
    dest: Path, entry: CatalogEntry, *, timeout: float, total_timeout: float, max_bytes: int, named: bool = False
) -> FetchResult:
    url = entry.source_url
    kinds = _SERVED_KINDS.get(PurePosixPath(entry.path).suffix.lower(), ("pdf",))
    planned = _served_path(entry, kinds[0])

    def failed(message: str, path: str = planned) -> FetchResult:
        logger.warning("%s: %s", entry.doc_id, message)
        return FetchResult(entry.doc_id, path, "failed", message, url)

    try:
        targets = {relative: target_path(dest, relative) for relative in _candidate_paths(entry)}
    except FetchError as exc:
        return failed(str(exc), entry.path)
    for relative, target in targets.items():
        if target.is_file():
            return FetchResult(entry.doc_id, relative, "present", "already there", url)
    if not url:
        message = f"the catalog gives no official URL: save the document as {entry.path} yourself"
        if not named and not entry.bundled:
            return FetchResult(entry.doc_id, entry.path, "skipped", message, url)
        return failed(message, entry.path)
    try:
        data, content_type = _download(url, timeout=timeout, total_timeout=total_timeout, max_bytes=max_bytes)
        kind = _check_content(data, content_type, kinds)
        relative = _served_path(entry, kind)
        target = targets[relative]
        digest = hashlib.sha256(data).hexdigest()
        pinned = relative == entry.path and entry.sha256 is not None
        if pinned and digest != entry.sha256:
            raise FetchError(f"sha256 mismatch: got {digest}, the catalog pins {entry.sha256}")
        _write_atomic(target, data)
    except FetchError as exc:
        return failed(f"{url}: {exc}")
    except OSError as exc:
        return failed(f"cannot write {target}: {exc.strerror or exc}", relative)
    if pinned:
        message = ""
    elif relative != entry.path:
        message = f"saved what the URL serves ({kind}); the catalogued file {entry.path} was made from it (not pinned by sha256)"
    else:
        message = "not bundled with the corpus: no sha256 to check it against (not pinned)"
    logger.info("fetched %s -> %s", url, target)
    return FetchResult(entry.doc_id, relative, "fetched", message, url, digest)


def _download(url: str, *, timeout: float, total_timeout: float, max_bytes: int) -> tuple[bytes, str]:
    """The body and content type of ``url``, within the time and size limits; FetchError otherwise."""
    if not url.lower().startswith(("https://", "http://")):
        raise FetchError("only http and https URLs are fetched")
    request = urllib.request.Request(url, headers={"User-Agent": f"aseancyberdocs/{__version__}"})
    deadline = time.monotonic() + total_timeout
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            content_type = (response.headers.get_content_type() or "").lower()
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FetchError(f"too large: {int(length)} bytes announced, the limit is {max_bytes}")
            chunks, size = [], 0
            read = getattr(response, "read1", response.read)  # read1: what has arrived, so the deadline holds
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(f"timed out: not complete after {total_timeout:g} s")
                chunk = read(64 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"too large: over the limit of {max_bytes} bytes")
                chunks.append(chunk)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise FetchError(f"cannot connect: {exc.reason}") from exc
    except TimeoutError as exc:
        raise FetchError(f"timed out: no answer within {timeout:g} s") from exc
    except OSError as exc:  # connection reset, incomplete read
        raise FetchError(f"download failed: {exc}") from exc
    return b"".join(chunks), content_type


def _check_content(data: bytes, content_type: str, kinds: tuple[str, ...]) -> str:
    """What was served ("pdf" or "html"), judged by its bytes and checked against its content type
    and against the ``kinds`` the catalogued document may be served as; FetchError otherwise."""
    if not data:
        raise FetchError("empty response")
    is_pdf = data.lstrip()[:5].startswith(b"%PDF")
    if is_pdf and "pdf" in kinds:
        if content_type and content_type not in _PDF_TYPES:
            raise FetchError(f"unexpected content type {content_type} for a PDF")
        return "pdf"
    if "html" not in kinds:
        raise FetchError(f"not a PDF (content type {content_type or 'none'}, no %PDF header)")
    if content_type not in _HTML_TYPES:
        raise FetchError(f"unexpected content type {content_type or 'none'}, expected a web page (text/html)")
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head.startswith(b"<") or is_pdf:
        raise FetchError("not an HTML page (no markup at the start)")
    return "html"


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
