"""``aseancyberdocs serve``: arguments, the non-loopback warning, building a missing index, a real server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import pytest
from conftest import REPO

from aseancyberdocs.cli import main

WEB = ("fastapi", "starlette", "uvicorn", "jinja2")


@pytest.fixture
def served(monkeypatch):
    """Replace the server loop with a recorder: (library, host, port) of each call."""
    from aseancyberdocs import web

    calls = []
    monkeypatch.setattr(web, "run", lambda library, host, port: calls.append((library, host, port)))
    return calls


def test_serve_binds_loopback_by_default_without_warning(built_index, fake_models, served, capsys):
    assert main(["serve", "--index", str(built_index)]) == 0
    (library, host, port), = served
    assert (host, port, len(library.documents)) == ("127.0.0.1", 8000, 3)
    assert "warning" not in capsys.readouterr().err


def test_serve_warns_when_binding_another_host(built_index, fake_models, served, capsys):
    assert main(["serve", "--index", str(built_index), "--host", "0.0.0.0", "--port", "8765"]) == 0
    assert served[0][1:] == ("0.0.0.0", 8765)
    assert "warning: binding 0.0.0.0: the app will be reachable by other machines" in capsys.readouterr().err


def test_serve_builds_a_missing_index_from_the_corpus_first(tmp_path, fake_models, served, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.md").write_text("---\ntitle: Note\ndate: 2024-01-01\n---\n\n1. We commit to resilience.\n")
    index_dir = tmp_path / "index"
    assert main(["serve", "--index", str(index_dir), "--corpus", str(corpus)]) == 0
    assert (index_dir / "manifest.json").is_file() and len(served[0][0].documents) == 1
    assert f"no index at {index_dir} yet: building it from the corpus named by --corpus ({corpus}, 1 documents)" in capsys.readouterr().err


def test_serve_without_index_or_corpus_is_an_error(tmp_path, fake_models, served, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--index", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_serve_rejects_a_bad_port():
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port", "0"])
    assert exited.value.code == 2


def test_serve_help_imports_no_web_stack_and_no_model():
    check = "import sys; from aseancyberdocs.cli import main\ntry:\n    main(['serve', '--help'])\nexcept SystemExit:\n    pass\n"
    check += f"print(sorted(m for m in {WEB + ('torch', 'faiss', 'sentence_transformers')!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", check], env=_env(), capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "aseancyberdocs serve --index indexes/full --port 8080" in result.stdout


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO / "tests"), env.get("PYTHONPATH", "")])
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_over_http_until_stopped(built_index):
    port = _free_port()
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
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--index", str(built_index), "--port", str(port)],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/api/info", timeout=5) as response:
                    info = json.load(response)
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.communicate(timeout=10)[1]) from None
                time.sleep(0.2)
        assert info["documents"] == 3
        with urllib.request.urlopen(base + "/api/search?q=ransomware&k=1", timeout=10) as response:
            assert json.load(response)["hits"][0]["doc_id"] == "2023-ransomware-joint-statement"
        foreign = urllib.request.Request(base + "/api/info", headers={"Host": "attacker.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(foreign, timeout=5)
        assert refused.value.code == 400  # DNS-rebinding guard: only loopback names are accepted
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert f"serving {built_index} at http://127.0.0.1:{port}/" in err
