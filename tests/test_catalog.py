"""The corpus catalog: the shipped file is whole and true to the corpus, and bad files are reported."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aseancyberdocs.catalog import COLUMNS, DOC_TYPES, Catalog, CatalogEntry
from aseancyberdocs.errors import CatalogError
from aseancyberdocs.sources import find_sources

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("ASEANCYBERDOCS_CORPUS") or REPO / "corpus")

HEADER = ",".join(COLUMNS)
SHA_A = "a" * 64
SHA_B = "b" * 64
ROW_A = f"un/pdf/A_RES_80_16.pdf,A/RES/80/16,A/RES/80/16,Open-ended working group,2025-12-01,resolution,\"UN General Assembly, First Committee\",https://docs.un.org/en/A/RES/80/16,{SHA_A}"
ROW_B = f"statements/quad.md,quad,,Quad Leaders’ Joint Statement,2021-03-12,joint statement,Quad,https://example.org/quad,{SHA_B}"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="module")
def bundled(catalog: Catalog) -> list[CatalogEntry]:
    return [entry for entry in catalog if entry.bundled]


@pytest.fixture(scope="module")
def not_bundled(catalog: Catalog) -> list[CatalogEntry]:
    return [entry for entry in catalog if not entry.bundled]


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "catalog.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_shipped_catalog_loads_with_one_row_per_corpus_file(catalog: Catalog, bundled: list[CatalogEntry]) -> None:
    assert len(bundled) == 293
    assert all(isinstance(entry, CatalogEntry) for entry in catalog)


def test_documents_not_bundled_are_catalogued_unpinned(not_bundled: list[CatalogEntry]) -> None:
    reports = {entry.doc_id for entry in not_bundled if entry.doc_type == "report"}
    assert reports == {"A/65/201", "A/68/98", "A/70/174", "A/76/135", "A/75/816", "A/77/275", "A/78/265", "A/79/214", "A/80/257"}
    for entry in not_bundled:
        assert entry.sha256 is None and not entry.bundled
        if entry.symbol:
            assert entry.path == f"un/pdf/{entry.symbol.replace('/', '_')}.pdf"
            assert entry.source_url == f"https://docs.un.org/en/{entry.symbol}"
        else:
            assert entry.path.startswith("statements/") and entry.body == "ASEAN Summit"
    asean = {entry.doc_id: entry for entry in not_bundled if not entry.symbol}
    statement = asean["2018-04-28-asean-leaders-statement-on-cybersecurity-cooperation"]
    assert (statement.doc_type, statement.date) == ("leaders' statement", "2018-04-28")
    assert {entry.doc_type for entry in asean.values()} == {"leaders' statement", "chairman's statement"}


def test_a_row_with_an_empty_sha256_is_not_bundled_and_several_may_share_it(tmp_path: Path) -> None:
    loaded = Catalog.load(write(tmp_path, HEADER, ROW_A.replace(SHA_A, ""), ROW_B.replace(SHA_B, "")))
    assert [entry.bundled for entry in loaded] == [False, False]
    assert loaded.lookup("A_RES_80_16.pdf", "0" * 64).doc_id == "A/RES/80/16"  # found by its file name


def test_repository_copy_is_the_shipped_file() -> None:
    # corpus/catalog.csv is a link to the package data: one file, two ways in.
    assert (REPO / "corpus" / "catalog.csv").resolve() == (REPO / "src" / "aseancyberdocs" / "data" / "catalog.csv").resolve()


def test_shipped_catalog_columns_in_order() -> None:
    with (REPO / "src" / "aseancyberdocs" / "data" / "catalog.csv").open(encoding="utf-8", newline="") as handle:
        assert tuple(next(csv.reader(handle))) == COLUMNS


def test_doc_ids_paths_and_hashes_are_unique(catalog: Catalog, bundled: list[CatalogEntry]) -> None:
    for key in ("doc_id", "path"):
        values = [getattr(entry, key) for entry in catalog]
        assert len(set(values)) == len(values), key
    hashes = [entry.sha256 for entry in bundled]
    assert len(set(hashes)) == len(hashes)


def test_values_are_well_formed(bundled: list[CatalogEntry]) -> None:
    for entry in bundled:
        assert entry.doc_type in DOC_TYPES
        assert entry.date is not None and dt.date(2018, 1, 1) <= dt.date.fromisoformat(entry.date) <= dt.date(2026, 12, 31), entry
        assert entry.title == " ".join(entry.title.split()), entry
        assert entry.body, entry
        assert entry.source_url and entry.source_url.startswith("https://"), entry
        if entry.path.startswith("un/"):
            assert entry.symbol == entry.doc_id == Path(entry.path).stem.replace("_", "/")
            assert entry.source_url == f"https://docs.un.org/en/{entry.symbol}"
            assert entry.body.startswith("UN General Assembly, ")
        else:
            assert entry.symbol is None and entry.doc_id == Path(entry.path).stem


def test_types_follow_the_symbols(catalog: Catalog) -> None:
    for entry in catalog:
        if not entry.bundled and entry.symbol:
            assert entry.doc_type == "report"
        elif entry.doc_id == "A/RES/79/243":
            assert entry.doc_type == "convention"
        elif entry.doc_id.startswith("A/RES/"):
            assert entry.doc_type == "resolution"
        elif entry.doc_id.startswith("A/C."):
            committee = {"1": "First", "2": "Second", "3": "Third"}[entry.doc_id[4]]
            assert entry.body == f"UN General Assembly, {committee} Committee"
            assert entry.doc_type in ("draft resolution", "draft decision")
        else:
            assert entry.doc_type in ("leaders' statement", "joint statement", "chairman's statement", "declaration")


def test_known_documents(catalog: Catalog) -> None:
    oewg = catalog.get("A/RES/80/16")
    assert oewg is not None
    assert (oewg.date, oewg.body) == ("2025-12-01", "UN General Assembly, First Committee")
    assert oewg.title.startswith("Open-ended working group on security of and in the use of information")
    pact = catalog.get("A/RES/79/1")
    assert pact is not None and (pact.title, pact.date, pact.body) == ("The Pact for the Future", "2024-09-22", "UN General Assembly, Plenary")
    norms = catalog.get("A/RES/73/27")
    assert norms is not None and norms.path == "un/text/A_RES_73_27.txt" and norms.date == "2018-12-05"
    decision = catalog.get("A/C.1/80/L.35")
    assert decision is not None and decision.doc_type == "draft decision"


def test_every_bundled_row_matches_a_corpus_file(bundled: list[CatalogEntry]) -> None:
    on_disk = {path.relative_to(CORPUS).as_posix() for path in find_sources([CORPUS])}
    assert {entry.path for entry in bundled} == on_disk
    for entry in bundled:
        assert hashlib.sha256((CORPUS / entry.path).read_bytes()).hexdigest() == entry.sha256, entry.path


def test_the_corpus_readme_gives_every_file_its_source_and_sha256(bundled: list[CatalogEntry]) -> None:
    rows = {}
    for line in (REPO / "corpus" / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`") and cells[4].startswith("`"):
            rows[cells[0].strip("`")] = cells
    for entry in bundled:
        path, _, official_url, origin, sha256 = rows.pop(entry.path)
        assert (official_url, sha256.strip("`")) == (entry.source_url, entry.sha256), entry.path
        assert origin, entry.path
    assert rows == {}  # no row for a file the catalog does not know


def test_lookup_by_sha256_then_by_name(catalog: Catalog) -> None:
    convention = catalog.get("A/RES/79/243")
    assert convention is not None
    assert catalog.lookup(Path("renamed.pdf"), convention.sha256) is convention
    assert catalog.lookup(Path("renamed.pdf"), convention.sha256.upper()) is convention
    assert catalog.lookup(Path("/anywhere/A_RES_79_243.pdf")) is convention
    assert catalog.lookup("A_RES_79_243.pdf", "0" * 64) is convention
    assert catalog.lookup(Path("unknown.pdf"), "0" * 64) is None


def test_sha256_wins_over_file_name(tmp_path: Path) -> None:
    loaded = Catalog.load(write(tmp_path, HEADER, ROW_A, ROW_B))
    assert loaded.lookup("A_RES_80_16.pdf", SHA_B).doc_id == "quad"


def test_to_metadata_gives_document_fields(tmp_path: Path) -> None:
    entry = Catalog.load(write(tmp_path, HEADER, ROW_A, ROW_B)).get("quad")
    assert entry is not None
    assert entry.to_metadata() == {
        "doc_id": "quad",
        "symbol": None,
        "title": "Quad Leaders’ Joint Statement",
        "date": "2021-03-12",
        "doc_type": "joint statement",
        "body": "Quad",
        "source_url": "https://example.org/quad",
    }


def test_columns_may_come_in_any_order(tmp_path: Path) -> None:
    rows = list(csv.reader([HEADER, ROW_A]))
    order = list(reversed(range(len(COLUMNS))))
    reordered = [",".join(f'"{row[i]}"' for i in order) for row in rows]
    assert Catalog.load(write(tmp_path, *reordered)).get("A/RES/80/16").body == "UN General Assembly, First Committee"


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (ROW_B.replace("2021-03-12", "12 March 2021"), "date"),
        (ROW_B.replace("2021-03-12", "2021-02-30"), "date"),
        (ROW_B.replace("joint statement", "press release"), "doc_type"),
        (ROW_B.replace(SHA_B, "b" * 63), "sha256"),
        (ROW_B.replace("statements/quad.md", "/abs/quad.md"), "path"),
        (ROW_B.replace("statements/quad.md", "../quad.md"), "path"),
        (ROW_B.replace(",quad,", ",,"), "doc_id"),
        (ROW_B + ",extra", "fields"),
        (ROW_B.replace(",quad,", ",A/RES/80/16,"), "duplicate doc_id"),
        (ROW_B.replace(SHA_B, SHA_A), "duplicate sha256"),
    ],
)
def test_malformed_row_names_file_and_line(tmp_path: Path, bad_row: str, message: str) -> None:
    path = write(tmp_path, HEADER, ROW_A, bad_row)
    with pytest.raises(CatalogError, match=message) as info:
        Catalog.load(path)
    assert f"{path}, line 3" in str(info.value)


def test_bad_header_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER.replace("body", "committee"), ROW_A)
    with pytest.raises(CatalogError, match=r"line 1: .*missing body; unknown committee"):
        Catalog.load(path)


def test_missing_empty_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no such catalog"):
        Catalog.load(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(CatalogError, match="empty"):
        Catalog.load(tmp_path / "empty.csv")
    (tmp_path / "latin1.csv").write_bytes((HEADER + "\n" + ROW_A.replace("Open", "Ouvert \xe9")).encode("latin-1"))
    with pytest.raises(CatalogError, match="UTF-8"):
        Catalog.load(tmp_path / "latin1.csv")


def test_unterminated_quote_is_a_catalog_error(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, ROW_A, ROW_B.replace("Quad,https", '"Quad,https'))
    with pytest.raises(CatalogError, match="line"):
        Catalog.load(path)


def test_importing_the_catalog_stays_light() -> None:
    code = "import sys, aseancyberdocs.catalog; print(sorted(m for m in ('torch', 'faiss', 'sentence_transformers') if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"
