"""A sentence-transformers model exported once to ONNX, kept in a cache keyed by the model's files.

Queries and builds then run the network with ONNX Runtime, which loads in a fraction of a second
where importing torch and sentence-transformers takes several. The export itself needs torch: it
runs once per model (a few seconds), offline, from the model folder on disk, and is checked
against the PyTorch model before it is kept. Nothing is downloaded.

The cache folder is ``$ASEANCYBERDOCS_CACHE`` if set, else ``$XDG_CACHE_HOME/aseancyberdocs`` or
``~/.cache/aseancyberdocs``; each export lives in ``onnx/<key>/`` where ``key`` is the sha256 of
the model folder's files (names and bytes) and of the exporter's version::

    onnx/<key>/model.onnx        the transformer: token ids -> token embeddings (float32), graph only
    onnx/<key>/model.onnx.data   its weights (ONNX external data, memory-mapped when loaded)
    onnx/<key>/model-int8.onnx   the same, weights quantized to int8 (made on request), and its .data
    onnx/<key>/export.json       the model folder it came from, the inputs, the check it passed
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import warnings
from pathlib import Path
from typing import Any

from .errors import ModelLoadError

logger = logging.getLogger(__name__)

CACHE_ENV = "ASEANCYBERDOCS_CACHE"
# Bump when the exported graph changes (inputs, opset, wrapper, file layout): older exports are then ignored.
EXPORT_VERSION = 3  # 3: attention traced in its plain (eager) form
OPSET = 17
MODEL_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
META_FILE = "export.json"
# The weights live next to the graph, not inside it: ONNX Runtime then maps them from the file
# instead of parsing a 90 MB protobuf and copying every tensor out of it, which halves the
# session's load time and its peak memory (about 100 MB less for all-MiniLM-L6-v2).
DATA_SUFFIX = ".data"
# An export whose vectors differ more than this from PyTorch's is refused (cosine similarity).
MIN_COSINE = 0.9999
_CHECK_TEXTS = (
    "Recalling its resolution 73/27 of 5 December 2018,",
    "States should not conduct or knowingly support ICT activity contrary to their obligations under "
    "international law that intentionally damages critical infrastructure.",
    "a",
)


def cache_dir() -> Path:
    """The folder holding exported models (``$ASEANCYBERDOCS_CACHE`` or the user cache folder).

    Example:
        >>> cache_dir().name  # doctest: +SKIP
        'aseancyberdocs'
    """
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "aseancyberdocs"


def _model_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file() and ".git" not in path.parts)


def model_key(folder: str | Path) -> str:
    """The sha256 of a model folder's files (relative names and bytes) and of the exporter version.

    Hashing 90 MB of weights takes a few tenths of a second, so the key is remembered per
    (path, size, mtime) of every file: later calls only ``stat`` the files.

    Example:
        >>> len(model_key(bundled_model_path()))  # doctest: +SKIP
        64
    """
    folder = Path(folder).resolve()
    files = _model_files(folder)
    if not files:
        raise ModelLoadError(f"the model folder {folder} holds no file")
    stats = [(path.relative_to(folder).as_posix(), path.stat().st_size, path.stat().st_mtime_ns) for path in files]
    memo_name = hashlib.sha256(json.dumps([str(folder), EXPORT_VERSION, stats]).encode("utf-8")).hexdigest()
    memo = cache_dir() / "onnx" / "keys" / memo_name
    try:
        key = memo.read_text(encoding="ascii").strip()
        if len(key) == 64:
            return key
    except OSError:
        pass
    digest = hashlib.sha256(f"aseancyberdocs-onnx-export-{EXPORT_VERSION}\n".encode("ascii"))
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    key = digest.hexdigest()
    try:
        _write_atomically(memo, key.encode("ascii"))
    except OSError as exc:  # a read-only cache: the key is recomputed next time
        logger.debug("cannot remember the model key in %s: %s", memo, exc)
    return key


def export_dir(folder: str | Path) -> Path:
    """Where the export of the model in ``folder`` lives (it may not exist yet)."""
    return cache_dir() / "onnx" / model_key(folder)


def find_export(folder: str | Path, *, quantized: bool = False) -> Path | None:
    """The cached ONNX file of the model in ``folder``, or None when it has not been exported."""
    path = export_dir(folder) / (INT8_FILE if quantized else MODEL_FILE)
    complete = path.is_file() and Path(str(path) + DATA_SUFFIX).is_file() and (path.parent / META_FILE).is_file()
    return path if complete else None


def read_meta(onnx_path: Path) -> dict[str, Any]:
    """The ``export.json`` next to an exported model."""
    try:
        return json.loads((onnx_path.parent / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{onnx_path.parent}: unreadable {META_FILE}: {exc}") from exc


def export_model(folder: str | Path, *, quantized: bool = False) -> Path:
    """Export the sentence-transformers model in ``folder`` to ONNX (once) and return the file.

    The transformer is traced with ``torch.onnx.export`` (token ids, attention mask and, where the
    model takes them, token type ids in; token embeddings out); pooling and normalisation stay in
    numpy, as the model folder's configuration says. The export is kept only when its vectors
    agree with PyTorch's (cosine >= ``MIN_COSINE``) on a few texts. With ``quantized``, an int8
    copy (ONNX Runtime dynamic quantization) is made from the float32 export.

    Raises:
        ModelLoadError: torch cannot load or export the model, or the export disagrees with it.

    Example:
        >>> export_model(bundled_model_path()).name  # doctest: +SKIP
        'model.onnx'
    """
    folder = Path(folder)
    target = export_dir(folder)
    plain = target / MODEL_FILE
    if not (plain.is_file() and (target / META_FILE).is_file()):
        _export_float32(folder, target)
    if not quantized:
        return plain
    int8 = target / INT8_FILE
    if not int8.is_file():
        _quantize(plain, int8)
    return int8


def _export_float32(folder: Path, target: Path) -> None:
    from .embedding import _load_sentence_transformer

    model = _load_sentence_transformer(str(folder), str(folder))
    import torch

    try:
        transformer = model[0].auto_model
        tokenizer = model.tokenizer
    except (AttributeError, IndexError, TypeError) as exc:
        raise ModelLoadError(f"{folder}: not a transformer model that can be exported: {exc}") from exc
    # The plain attention traces to fewer ONNX nodes than PyTorch's fused SDPA call: 5% less CPU
    # per text under ONNX Runtime, the same vectors (cosine 1 - 1e-7).
    if hasattr(transformer, "set_attn_implementation"):
        try:
            transformer.set_attn_implementation("eager")
        except (ValueError, NotImplementedError) as exc:  # a model without the plain form keeps its own
            logger.debug("%s: attention kept as it is (%s)", folder, exc)
    accepted = set(_forward_parameters(transformer))
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids")
             if name in accepted and (name != "token_type_ids" or name in getattr(tokenizer, "model_input_names", ()))]
    if names[:2] != ["input_ids", "attention_mask"]:
        raise ModelLoadError(f"{folder}: the transformer does not take input_ids and attention_mask")

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: Any) -> Any:
            return self.inner(**dict(zip(names, inputs)), return_dict=True).last_hidden_state

    sample = tokenizer(list(_CHECK_TEXTS[:2]), padding=True, return_tensors="pt")
    arguments = tuple(sample[name] for name in names)
    target.mkdir(parents=True, exist_ok=True)
    # Written in a private folder, checked, then moved in: weights first, the graph, then
    # export.json, which is what marks an export complete (find_export).
    work = target / f".export-{os.getpid()}-{secrets.token_hex(4)}"
    work.mkdir()
    traced = work / "traced.onnx"
    dynamic = {name: {0: "batch", 1: "tokens"} for name in [*names, "token_embeddings"]}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer and deprecation warnings are not the user's business
            torch.onnx.export(
                TokenEmbeddings(transformer).eval(), arguments, str(traced),
                input_names=names, output_names=["token_embeddings"], dynamic_axes=dynamic,
                opset_version=OPSET, do_constant_folding=True, dynamo=False,
            )
        _save_external(traced, work / MODEL_FILE)
        cosine = _agreement(work / MODEL_FILE, model, names, folder)
        if cosine < MIN_COSINE:
            raise ModelLoadError(
                f"{folder}: the ONNX export disagrees with PyTorch (cosine {cosine:.6f} < {MIN_COSINE})"
            )
        os.replace(work / (MODEL_FILE + DATA_SUFFIX), target / (MODEL_FILE + DATA_SUFFIX))
        os.replace(work / MODEL_FILE, target / MODEL_FILE)
    except ModelLoadError:
        raise
    except Exception as exc:  # torch raises many kinds on models it cannot trace
        raise ModelLoadError(f"{folder}: cannot export the model to ONNX: {type(exc).__name__}: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta = {
        "export_version": EXPORT_VERSION,
        "model_folder": str(folder.resolve()),
        "inputs": names,
        "output": "token_embeddings",
        "opset": OPSET,
        "torch": torch.__version__,
        "check_min_cosine": round(cosine, 7),
    }
    _write_atomically(target / META_FILE, (json.dumps(meta, indent=2) + "\n").encode("utf-8"))
    logger.info("exported %s to %s (cosine with PyTorch %.7f)", folder, target, cosine)


def _save_external(source: Path, target: Path) -> None:
    """Save the model at ``source`` as ``target``, its weights in ``target`` + ".data"."""
    import onnx

    model = onnx.load(str(source))
    onnx.save_model(
        model, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
        location=target.name + DATA_SUFFIX, size_threshold=1024,
    )


def _forward_parameters(module: Any) -> list[str]:
    import inspect

    return list(inspect.signature(module.forward).parameters)


def _agreement(onnx_path: Path, model: Any, names: list[str], folder: Path) -> float:
    """The lowest cosine between ONNX and PyTorch vectors of the check texts."""
    import numpy as np

    from .embedding import OnnxEmbedder

    reference = model.encode(list(_CHECK_TEXTS), convert_to_numpy=True, normalize_embeddings=True)
    embedder = OnnxEmbedder(str(folder), _onnx_path=onnx_path)
    vectors = embedder.encode(list(_CHECK_TEXTS))
    return float(np.min(np.sum(vectors * reference, axis=1)))


def _quantize(source: Path, target: Path) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelLoadError(f"int8 quantization needs onnxruntime's quantization tools: {exc}") from exc
    work = target.parent / f".quantize-{os.getpid()}-{secrets.token_hex(4)}"
    work.mkdir()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Signed int8 weights per output channel, matrix products only: on all-MiniLM-L6-v2 this
            # keeps vectors at cosine >= 0.98 of float32's, where per-tensor weights fall to 0.95.
            quantize_dynamic(
                str(source), str(work / "quantized.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                op_types_to_quantize=["MatMul"],
            )
        _save_external(work / "quantized.onnx", work / target.name)
        os.replace(work / (target.name + DATA_SUFFIX), target.parent / (target.name + DATA_SUFFIX))
        os.replace(work / target.name, target)
    except Exception as exc:
        raise ModelLoadError(f"cannot quantize {source} to int8: {type(exc).__name__}: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info("quantized %s to %s", source, target)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    work = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}"
    try:
        work.write_bytes(data)
        os.replace(work, path)
    finally:
        work.unlink(missing_ok=True)
