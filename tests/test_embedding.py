"""The embedder: the bundled model is found on disk, loads offline, and embeds deterministically."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FakeEmbedder

from aseancyberdocs.embedding import (
    DEFAULT_MODEL,
    Embedder,
    SentenceTransformerEmbedder,
    bundled_model_path,
    load_embedder,
    model_name,
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
    embedder = load_embedder()
    embedder.encode(["load the network"])
    tokenizer = embedder._load().tokenizer
    for text in ["Recalling its resolution 73/27 of 5 December 2018,", "ICT-related capacity-building",
                 "Côte d’Ivoire — “cyber” …", "cybersecurity " * 300]:
        expected = len(tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"])
        assert embedder.count_tokens(text) == expected
