"""The bundled corpus is the default: `build` with no PATH, and a first search builds the default index."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, STATEMENT

from aseancyberdocs import corpus
from aseancyberdocs.cli import main
from aseancyberdocs.index import open_index


@pytest.fixture
def small_corpus(tmp_path, monkeypatch):
    """A one-statement corpus named by $ASEANCYBERDOCS_CORPUS, and a clean working folder."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "2024-01-01-cyber-resilience.md").write_text(STATEMENT, encoding="utf-8")
    (folder / "README.md").write_text("What this folder holds.\n", encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv(corpus.CORPUS_ENV, str(folder))
    monkeypatch.delenv("ASEANCYBERDOCS_INDEX", raising=False)
    return folder


def test_the_checkout_corpus_is_the_default(monkeypatch):
    monkeypatch.delenv(corpus.CORPUS_ENV, raising=False)
    assert corpus.bundled_corpus_dir() == REPO / "corpus"


def test_the_environment_names_another_corpus(monkeypatch, tmp_path):
    monkeypatch.setenv(corpus.CORPUS_ENV, str(tmp_path / "elsewhere"))
    assert corpus.bundled_corpus_dir() == tmp_path / "elsewhere"


def test_build_without_a_path_indexes_the_bundled_corpus(small_corpus, fake_models, capsys):
    assert main(["build", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["documents"], report["passages"], report["skipped"]) == (1, 3, [])  # README.md is not a document
    (document,) = open_index("indexes/default").documents.values()
    assert document.source.startswith(str(small_corpus))


def test_build_without_a_path_or_a_corpus_is_a_usage_error(small_corpus, monkeypatch, capsys):
    monkeypatch.setattr(corpus, "bundled_corpus_dir", lambda: None)
    assert main(["build"]) == 2
    assert "no PATH given and no bundled corpus found" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["search", "ransomware", "--json"], ["ask", "Who shares threat information?", "--json"],
                                     ["precedents", "share threat information among national computer emergency", "--json"]])
def test_a_first_query_builds_the_default_index_and_says_so(small_corpus, fake_models, capsys, command):
    assert main(command) == 0
    first = capsys.readouterr()
    assert "no index at indexes/default yet: building it from the bundled corpus" in first.err
    assert f"({small_corpus}, 1 documents)" in first.err and "about 1 minute" in first.err
    assert "indexed 1 documents, 3 passages" in first.err  # the build's summary goes to stderr...
    assert all(json.loads(line) for line in first.out.splitlines())  # ...so stdout stays JSON

    assert main(command) == 0
    again = capsys.readouterr()
    assert again.err == "" and again.out == first.out  # built once, then reused


def test_an_explicit_index_that_does_not_exist_stays_an_error(small_corpus, fake_models, capsys, tmp_path, monkeypatch):
    assert main(["search", "ransomware", "--index", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing" in err and "building" not in err
    monkeypatch.setenv("ASEANCYBERDOCS_INDEX", str(tmp_path / "from-env"))
    assert main(["search", "ransomware"]) == 1
    assert "building" not in capsys.readouterr().err
    assert not (tmp_path / "from-env").exists()
