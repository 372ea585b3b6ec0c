"""The embedder: the bundled model is found on disk, loads offline, and embeds deterministically."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FakeEmbedder

from aseancyberdocs.embedding import (
    DEFAULT_MODEL,
    Embedder,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    bundled_model_path,
    load_embedder,
    model_name,
    resolve_backend,
)
from aseancyberdocs.errors import ModelLoadError


def test_fake_embedder_follows_the_protocol():
    fake = FakeEmbedder()
    assert isinstance(fake, Embedder)
    vectors = fake.encode(["norms of responsible State behaviour", "ransomware"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, fake.dimension)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)


def test_bundled_model_is_on_disk():
    path = bundled_model_path()
    assert (path / "modules.json").is_file()
    assert (path / "tokenizer.json").is_file()


@pytest.mark.parametrize(
    ("asked", "recorded"),
    [(None, DEFAULT_MODEL), ("all-MiniLM-L6-v2", DEFAULT_MODEL),
     ("sentence-transformers/all-MiniLM-L6-v2", DEFAULT_MODEL), ("/models/other", "/models/other")],
)
def test_manifest_model_name_is_stable(asked, recorded):
    assert model_name(asked) == recorded


@pytest.mark.model
def test_a_model_that_is_not_on_disk_is_a_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="cannot load embedding model"):
        SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))


@pytest.mark.model
def test_default_model_embeds_normalised_float32_deterministically():
    embedder = load_embedder()
    assert embedder.name == DEFAULT_MODEL
    assert (embedder.dimension, embedder.max_tokens) == (384, 256)
    texts = ["Recalling its resolution 73/27 of 5 December 2018,", "We will not pay ransoms."] * 20
    first = embedder.encode(texts)
    assert first.dtype == np.float32 and first.shape == (40, 384)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(embedder.encode(texts), first)
    # Batching must not change a text's vector beyond float noise.
    np.testing.assert_allclose(embedder.encode(texts[:1])[0], first[0], atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)


@pytest.mark.model
def test_default_model_is_loaded_once_per_process():
    assert load_embedder() is load_embedder(DEFAULT_MODEL) is load_embedder("sentence-transformers/all-MiniLM-L6-v2")


@pytest.mark.model
def test_count_tokens_uses_the_model_tokenizer():
    from aseancyberdocs.passages import default_token_counter

    embedder = load_embedder()
    assert embedder.count_tokens("hello world") == 2  # no [CLS]/[SEP]
    long_text = "cybersecurity " * 400
    assert embedder.count_tokens(long_text) > embedder.max_tokens  # counted, not truncated
    for text in ["Recalling its resolution 73/27 of 5 December 2018,", "ICT-related capacity-building"]:
        assert embedder.count_tokens(text) == default_token_counter()(text)


def test_the_bundled_model_describes_itself_without_loading_torch():
    import subprocess
    import sys

    from conftest import REPO

    code = (
        "import sys\n"
        "from aseancyberdocs.embedding import load_embedder\n"
        "e = load_embedder()\n"
        "print(e.dimension, e.max_tokens, e.count_tokens('Recalling its resolution 73/27,'), e.loaded,\n"
        "      'torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert result.returncode == 0, result.stderr
    dimension, window, tokens, loaded, torch_loaded, st_loaded = result.stdout.split()
    assert (dimension, window) == ("384", "256") and int(tokens) > 5
    assert (loaded, torch_loaded, st_loaded) == ("False", "False", "False")


@pytest.mark.model
def test_a_model_folder_without_weights_fails_on_first_encode(tmp_path):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(bundled_model_path(), folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    embedder = SentenceTransformerEmbedder(str(folder))
    assert embedder.dimension == 384 and embedder.count_tokens("hello world") == 2
    with pytest.raises(ModelLoadError, match="cannot load embedding model"):
        embedder.encode(["hello"])


@pytest.mark.model
def test_fast_token_count_equals_the_model_tokenizer():
    embedder = SentenceTransformerEmbedder()
    tokenizer = embedder._load().tokenizer
    for text in ["Recalling its resolution 73/27 of 5 December 2018,", "ICT-related capacity-building",
                 "Côte d’Ivoire — “cyber” …", "cybersecurity " * 300]:
        expected = len(tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"])
        assert embedder.count_tokens(text) == expected


# ONNX Runtime (the default backend) against sentence-transformers (PyTorch)

_TEXTS = [
    "Recalling its resolution 73/27 of 5 December 2018,",
    "States should not conduct or knowingly support ICT activity contrary to their obligations under "
    "international law that intentionally damages critical infrastructure or otherwise impairs the use "
    "and operation of critical infrastructure to provide services to the public;",
    "We will not pay ransoms.",
    "Côte d’Ivoire — “cyber” …",
    "cybersecurity " * 300,  # longer than the window: cut at 256 tokens by both
    "a",
]


@pytest.fixture(scope="module")
def torch_vectors():
    return SentenceTransformerEmbedder().encode(_TEXTS)


@pytest.mark.model
def test_the_default_backend_is_onnx(monkeypatch):
    monkeypatch.delenv("ASEANCYBERDOCS_BACKEND", raising=False)
    embedder = load_embedder()
    assert isinstance(embedder, OnnxEmbedder) and embedder.backend == "onnx"
    assert isinstance(load_embedder(backend="torch"), SentenceTransformerEmbedder)
    assert load_embedder(backend="onnx-int8").backend == "onnx-int8"


def test_an_unknown_backend_is_named(monkeypatch):
    with pytest.raises(ValueError, match="'tensorflow'"):
        resolve_backend("tensorflow")
    monkeypatch.setenv("ASEANCYBERDOCS_BACKEND", "jax")
    with pytest.raises(ValueError, match="ASEANCYBERDOCS_BACKEND.*'jax'"):
        resolve_backend()


@pytest.mark.model
def test_a_fresh_cache_exports_once_and_onnx_vectors_equal_pytorch(tmp_path, monkeypatch, caplog, torch_vectors):
    from aseancyberdocs import onnx_export

    monkeypatch.setenv("ASEANCYBERDOCS_CACHE", str(tmp_path / "cache"))
    assert onnx_export.find_export(bundled_model_path()) is None
    embedder = OnnxEmbedder()
    with caplog.at_level("WARNING", logger="aseancyberdocs.embedding"):
        vectors = embedder.encode(_TEXTS)
    assert "exporting it once" in caplog.text
    exported = onnx_export.find_export(bundled_model_path())
    assert exported is not None and exported.is_relative_to(tmp_path / "cache")
    assert onnx_export.read_meta(exported)["check_min_cosine"] >= onnx_export.MIN_COSINE
    assert vectors.dtype == np.float32 and vectors.shape == (len(_TEXTS), 384)
    cosines = np.sum(vectors * torch_vectors, axis=1)
    assert cosines.min() >= 0.999, cosines
    np.testing.assert_allclose(vectors, torch_vectors, atol=1e-4)
    # A second embedder of the same model finds the export: no second export, same vectors.
    caplog.clear()
    with caplog.at_level("WARNING", logger="aseancyberdocs.embedding"):
        again = OnnxEmbedder().encode(_TEXTS[:2])
    assert "exporting" not in caplog.text
    np.testing.assert_allclose(again, vectors[:2], atol=1e-5)


@pytest.mark.model
def test_onnx_batches_and_counts_like_pytorch(torch_vectors):
    embedder = load_embedder(backend="onnx")
    batched = embedder.encode(_TEXTS * 7)  # several batches, sorted by length inside
    np.testing.assert_allclose(batched[: len(_TEXTS)], torch_vectors, atol=1e-4)
    np.testing.assert_allclose(batched[-len(_TEXTS):], batched[: len(_TEXTS)], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, rtol=1e-5)
    reference = SentenceTransformerEmbedder()
    for text in _TEXTS:
        assert embedder.count_tokens(text) == reference.count_tokens(text)
    assert embedder.encode([]).shape == (0, 384)


@pytest.mark.model
def test_one_onnx_thread_gives_the_same_vectors(torch_vectors, monkeypatch):
    from aseancyberdocs.embedding import ONNX_THREADS_ENV, OnnxEmbedder

    monkeypatch.setenv(ONNX_THREADS_ENV, "1")
    one_thread = OnnxEmbedder()  # a new session, made under the setting
    np.testing.assert_allclose(one_thread.encode(_TEXTS), torch_vectors, atol=1e-4)
    monkeypatch.setenv(ONNX_THREADS_ENV, "many")
    with pytest.raises(ValueError, match="ASEANCYBERDOCS_ONNX_THREADS must be a whole number, got 'many'"):
        OnnxEmbedder().encode(_TEXTS)
    monkeypatch.setenv(ONNX_THREADS_ENV, "0")
    with pytest.raises(ValueError, match="ASEANCYBERDOCS_ONNX_THREADS must be at least 1, got 0"):
        OnnxEmbedder().encode(_TEXTS)


@pytest.mark.model
def test_batches_side_by_side_give_the_vectors_of_one_thread(monkeypatch):
    from aseancyberdocs.embedding import ONNX_THREADS_ENV, OnnxEmbedder

    texts = [f"{text} ({number})" * (1 + number % 4) for number, text in enumerate(_TEXTS * 6)]
    monkeypatch.setenv(ONNX_THREADS_ENV, "1")
    alone = OnnxEmbedder(batch_size=2).encode(texts)
    monkeypatch.setenv(ONNX_THREADS_ENV, "3")
    side_by_side = OnnxEmbedder(batch_size=2)
    assert np.array_equal(side_by_side.encode(texts), alone)
    assert side_by_side._threads == 3


@pytest.mark.model
def test_int8_vectors_stay_close_to_pytorch(torch_vectors):
    vectors = load_embedder(backend="onnx-int8").encode(_TEXTS)
    cosines = np.sum(vectors * torch_vectors, axis=1)
    assert cosines.min() >= 0.97, cosines


def test_the_export_key_follows_the_model_files(tmp_path, monkeypatch):
    from aseancyberdocs.onnx_export import model_key

    monkeypatch.setenv("ASEANCYBERDOCS_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden_size": 384}')
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    first = model_key(folder)
    assert model_key(folder) == first and len(first) == 64
    assert list((tmp_path / "cache" / "onnx" / "keys").iterdir())  # remembered by file stats
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    assert model_key(folder) != first


def test_a_model_onnx_cannot_run_goes_to_sentence_transformers(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "modules.json").write_text(
        '[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},'
        ' {"idx": 1, "name": "1", "path": "1_Dense", "type": "sentence_transformers.models.Dense"}]'
    )
    with pytest.raises(ModelLoadError, match="ONNX Runtime cannot run it"):
        OnnxEmbedder(str(folder))
    # load_embedder does not try ONNX for it: sentence-transformers reports the folder unloadable.
    with pytest.raises(ModelLoadError, match="cannot load embedding model"):
        load_embedder(str(folder), backend="onnx")
