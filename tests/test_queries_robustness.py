"""Odd queries: a clear error (CLI exit 2, one line) or a normal result, never a traceback."""

from __future__ import annotations

import json

import pytest

from aseancyberdocs.cli import main
from aseancyberdocs.index import open_index

from conftest import FakeEmbedder

EMPTY = ["", "   ", "\n\t \r\n", "\u3000\u00a0"]
ODD = {
    "enormous": "critical infrastructure " * 4400,  # about 100 kB
    "control characters": "ransomware\x00\x01\x07\x1b[31m payments\x7f\u200b\ufeff",
    "thai": "โครงสร้างพื้นฐานที่สำคัญ ความมั่นคงปลอดภัยไซเบอร์",
    "vietnamese": "Cơ sở hạ tầng thông tin trọng yếu và an ninh mạng",
    "chinese": "关键基础设施 网络安全 勒索软件",
    "emoji and rtl": "🔐 ransomware \u202eevil\u202c الأمن السيبراني",
    "lone surrogate": "critical \ud800 infrastructure",
}


@pytest.mark.parametrize("query", EMPTY)
def test_empty_query_is_a_value_error(built_index, query):
    library = open_index(built_index, embedder=FakeEmbedder())
    with pytest.raises(ValueError, match="the query is empty"):
        library.search(query, k=3)


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_query_gives_normal_hits(built_index, name):
    library = open_index(built_index, embedder=FakeEmbedder())
    hits = library.search(ODD[name], k=3)
    assert len(hits) == 3
    assert [hit.rank for hit in hits] == [1, 2, 3]
    assert all(hit.passage.text for hit in hits)


def test_lone_surrogates_never_reach_the_encoder(built_index):
    embedder = FakeEmbedder()
    open_index(built_index, embedder=embedder).search("critical \udcff infrastructure", k=1)
    assert embedder.encoded == ["critical ? infrastructure"]


def test_enormous_query_is_about_100_kb():
    assert len(ODD["enormous"].encode("utf-8")) >= 100_000


@pytest.mark.parametrize("query", EMPTY)
def test_cli_empty_query_exits_2_with_one_line(built_index, fake_models, capsys, query):
    assert main(["search", query, "--index", str(built_index)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the query is empty") and err.count("\n") == 1


@pytest.mark.parametrize("name", sorted(ODD))
def test_cli_odd_query_prints_hits(built_index, fake_models, capsys, name):
    assert main(["search", ODD[name], "--index", str(built_index), "-k", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert [json.loads(line)["rank"] for line in captured.out.splitlines()] == [1, 2]


def test_cli_queries_file_with_odd_and_empty_queries(built_index, fake_models, capsys, tmp_path):
    queries = tmp_path / "queries.jsonl"
    lines = [json.dumps({"qid": name, "query": query}) for name, query in ODD.items() if name != "lone surrogate"]
    queries.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["search", "--queries", str(queries), "--index", str(built_index), "-k", "1", "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(lines)

    queries.write_text(json.dumps({"qid": "blank", "query": "  "}) + "\n", encoding="utf-8")
    assert main(["search", "--queries", str(queries), "--index", str(built_index)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {queries}: query 'blank': the query is empty") and err.count("\n") == 1
