"""The command line: output formats, batch queries, exit codes, closed pipes, help, import weight."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, STATEMENT, make_document

from aseancyberdocs.cli import build_parser, main
from aseancyberdocs.index import build_index_from_documents, open_index

HIT_FIELDS = {
    "rank", "score", "doc_id", "symbol", "title", "date", "doc_type", "label", "pages", "citation", "text",
    "start", "end", "source",
}
HEAVY = ("torch", "transformers", "sentence_transformers", "faiss", "langchain_core", "mcp")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO / "tests"), env.get("PYTHONPATH", "")])
    return env


def _run_with_fake_model(args: list[str], **kwargs) -> subprocess.Popen:
    """``aseancyberdocs ARGS`` in a subprocess whose embedding models are fakes."""
    code = textwrap.dedent(
        """
        import sys
        from conftest import FakeEmbedder
        from aseancyberdocs import embedding
        embedding.load_embedder = lambda model=None: FakeEmbedder(model or "fake-bow")
        from aseancyberdocs.cli import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    return subprocess.Popen([sys.executable, "-c", code, *args], env=_env(), **kwargs)


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# -- search ----------------------------------------------------------------------------------


def test_search_json_has_one_object_per_hit(built_index, fake_models, capsys):
    assert main(["search", "critical infrastructure", "--index", str(built_index), "-k", "3", "--json"]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert [row["rank"] for row in rows] == [1, 2, 3]
    for row in rows:
        assert HIT_FIELDS <= set(row)
        assert "qid" not in row
    library = open_index(built_index)
    first = library.passages[[p.passage_id for p in library.passages].index(rows[0]["passage_id"])]
    assert rows[0]["text"] == first.text and rows[0]["label"] == first.label


def test_search_human_output_shows_rank_score_citation_and_text(built_index, fake_models, capsys):
    assert main(["search", "ransom payments", "--index", str(built_index), "-k", "2"]) == 0
    out = capsys.readouterr().out
    first_line = out.splitlines()[0]
    hit = open_index(built_index).search("ransom payments", k=1)[0]
    assert first_line.split()[:2] == ["1.", f"{hit.score:.3f}"]
    assert str(hit.citation) in first_line
    assert "ransoms to cybercriminals" in out
    assert max(len(line) for line in out.splitlines()) <= 110


def test_index_from_the_environment(built_index, fake_models, capsys, monkeypatch):
    monkeypatch.setenv("ASEANCYBERDOCS_INDEX", str(built_index))
    assert main(["search", "ransomware", "--json", "-k", "1"]) == 0
    assert len(_json_lines(capsys.readouterr().out)) == 1


def test_batch_queries_carry_their_qid(built_index, fake_models, capsys, tmp_path):
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        '{"qid": "q1", "query": "critical infrastructure"}\n\n{"qid": 7, "query": "ransomware"}\n'
        '{"query": "capacity building"}\n'
    )
    assert main(["search", "--queries", str(queries), "--index", str(built_index), "-k", "2", "--json"]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert [(row["qid"], row["rank"]) for row in rows] == [("q1", 1), ("q1", 2), (7, 1), (7, 2), (4, 1), (4, 2)]
    assert all(HIT_FIELDS <= set(row) for row in rows)
    assert len(fake_models) == 1  # one model load for all queries


def test_batch_queries_from_stdin_human_output(built_index, fake_models, capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO('{"qid": "a", "query": "ransomware"}\n'))
    assert main(["search", "--queries", "-", "--index", str(built_index), "-k", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# a: ransomware\n  1.")


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json\n", "queries.jsonl:1: not a JSON object"), ('{"qid": 1}\n', 'a "query" string'),
     ('{"qid": 1, "query": "  "}\n', "query is empty")],
)
def test_malformed_queries_file_is_a_one_line_error(built_index, fake_models, capsys, tmp_path, content, message):
    queries = tmp_path / "queries.jsonl"
    queries.write_text(content)
    assert main(["search", "--queries", str(queries), "--index", str(built_index), "--json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_info_json_and_human(built_index, fake_models, capsys):
    assert main(["info", "--index", str(built_index), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["documents"] == 3 and info["passages"] == 10
    assert info["by_doc_type"]["joint statement"] == {"documents": 1, "passages": 3}
    assert info["model"]["name"] == "fake-bow" and info["built"]

    assert main(["info", "--index", str(built_index)]) == 0
    out = capsys.readouterr().out
    assert "fake-bow" in out and "joint statement" in out and info["built"] in out


# -- build -----------------------------------------------------------------------------------


def test_build_reports_documents_passages_and_skipped_files(tmp_path, fake_models, capsys):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "2024-01-01-cyber-resilience.md").write_text(STATEMENT)
    (sources / "empty.txt").write_text("")
    (sources / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    index_dir = tmp_path / "index"

    assert main(["build", str(sources), "--index", str(index_dir), "--model", "fake-bow"]) == 0
    out, err = capsys.readouterr()
    assert "indexed 1 documents, 3 passages" in out
    assert "skipped 2 files" in out and "empty.txt" in out and "broken.pdf" in out
    assert err == ""  # no progress bars when stderr is not a terminal

    assert main(["build", str(sources), "--index", str(index_dir), "--model", "fake-bow", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # Reused: the three passage texts and the document's line.
    assert (report["documents"], report["passages"], report["embedded"], report["reused"]) == (1, 3, 0, 4)
    assert report["documents_reused"] == 1
    assert {item["path"].rsplit("/", 1)[-1] for item in report["skipped"]} == {"empty.txt", "broken.pdf"}

    assert main(["search", "ransomware", "--index", str(index_dir), "-k", "1", "--json"]) == 0
    row = _json_lines(capsys.readouterr().out)[0]
    assert row["label"] == "para. 1" and row["doc_type"] == "joint statement"


def test_build_with_nothing_readable_fails_with_one_line(tmp_path, fake_models, capsys):
    (tmp_path / "empty.txt").write_text("")
    assert main(["build", str(tmp_path / "empty.txt"), "--index", str(tmp_path / "index")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no document to index") and err.count("\n") == 1
    assert not (tmp_path / "index").exists()


def test_build_of_a_missing_path(tmp_path, fake_models, capsys):
    assert main(["build", str(tmp_path / "nowhere"), "--index", str(tmp_path / "index")]) == 1
    assert capsys.readouterr().err.startswith("error: ")


# -- exit codes and errors -------------------------------------------------------------------


def test_missing_index_exits_1_without_traceback(tmp_path, capsys):
    assert main(["search", "norms", "--index", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no index at") and "Traceback" not in err and err.count("\n") == 1


def test_corrupt_index_exits_1(built_index, fake_models, capsys):
    (built_index / "store.sqlite").write_text("{}\n")
    assert main(["info", "--index", str(built_index)]) == 1
    assert "has changed since the build" in capsys.readouterr().err


def test_model_mismatch_exits_1(built_index, monkeypatch, capsys):
    from aseancyberdocs import embedding
    from conftest import FakeEmbedder

    monkeypatch.setattr(embedding, "load_embedder", lambda model=None: FakeEmbedder("another-model"))
    assert main(["search", "norms", "--index", str(built_index)]) == 1
    assert "error: " in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["search"],
        ["search", "norms", "--queries", "q.jsonl"],
        ["search", "norms", "-k", "0"],
        ["search", "norms", "-k", "many"],
        ["frobnicate"],
        ["info", "--bogus"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        code = main(argv)
        raise SystemExit(code)
    assert exit_info.value.code == 2


def test_empty_query_is_a_usage_error(built_index, fake_models, capsys):
    assert main(["search", "   ", "--index", str(built_index)]) == 2
    assert capsys.readouterr().err.startswith("error: the query is empty")


def test_every_help_ends_with_an_example():
    parser = build_parser()
    helps = [parser.format_help()]
    subparsers = next(action for action in parser._actions if action.__class__.__name__ == "_SubParsersAction")
    helps += [sub.format_help() for sub in subparsers.choices.values()]
    assert {"build", "search", "info"} <= set(subparsers.choices)
    for text in helps:
        tail = text.rstrip().split("example:")
        assert len(tail) == 2, text
        assert "aseancyberdocs " in tail[1]


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("aseancyberdocs ")


# -- subprocesses ----------------------------------------------------------------------------


def test_python_dash_m_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "aseancyberdocs", "--help"], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "example:" in result.stdout


@pytest.mark.parametrize(
    "code",
    [
        "import aseancyberdocs",
        "from aseancyberdocs import open_index, build_index, Library, Hit",
        "from aseancyberdocs.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
        "from aseancyberdocs.cli import main\nfor c in ('build', 'search', 'info', 'ask', 'mcp'):\n"
        "    try:\n        main([c, '--help'])\n    except SystemExit:\n        pass",
    ],
)
def test_import_and_help_load_no_heavy_module(code):
    check = f"{code}\nimport sys\nprint('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", check], env=_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "HEAVY=", result.stdout.splitlines()[-1]


def test_closed_pipe_is_survived(tmp_path):
    paragraphs = [f"Paragraph {n} on cyber norms, capacity building and the Programme of Action. " * 4
                  for n in range(400)]
    document, passages = make_document("A/RES/80/1", paragraphs)
    from conftest import FakeEmbedder

    build_index_from_documents([document], tmp_path / "index", embedder=FakeEmbedder(), passages=passages)

    process = _run_with_fake_model(
        ["search", "cyber norms", "--index", str(tmp_path / "index"), "-k", "400", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = process.stdout.readline()
    process.stdout.close()  # like `| head -n 1`
    stderr = process.stderr.read().decode()
    process.wait(timeout=60)
    assert json.loads(first)["rank"] == 1
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def test_console_script_is_declared():
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'aseancyberdocs = "aseancyberdocs.cli:main"' in pyproject
    assert Path(REPO / "src" / "aseancyberdocs" / "__main__.py").is_file()
