"""The contract document an exported model carries: built from a checkpoint, written into ONNX.

Everything a client needs besides the graph (input size and resize policy, embedding size and
metric, the calibration, which data and backbone made the model, its validation AUC, the
variant and what the variant costs in AUC) is one `painter_match.inference.model.ModelInfo`, stored as
JSON under ``METADATA_KEY`` in the model's ``metadata_props``. The model's identity comes from a
digest of the checkpoint's weights (`weights_digest`), never from the export time.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

import onnx

from painter_match.data.catalogue import artist_digest
from painter_match.data.views import Views
from painter_match.inference.model import METADATA_KEY, ModelInfo
from painter_match.train.checkpoint import Checkpoint, CheckpointError


def versions() -> dict[str, str]:
    """The library versions that made the model."""
    import onnxruntime
    import torch

    import painter_match

    return {
        "painter_match": str(painter_match.__version__),
        "torch": str(torch.__version__),
        "onnx": str(onnx.__version__),
        "onnxruntime": str(onnxruntime.__version__),
    }


def weights_digest(tensors: Mapping[str, Any]) -> str:
    """SHA-256 of a state dict: each tensor's name, dtype, shape and bytes, in name order.

    The same weights give the same digest whenever and wherever they are exported.
    """
    import torch

    digest = hashlib.sha256()
    for name in sorted(tensors):
        value = tensors[name]
        if not isinstance(value, torch.Tensor):
            digest.update(f"{name}={value!r};".encode())
            continue
        tensor = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{tensor.dtype}:{tuple(value.shape)};".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _views(state: Checkpoint) -> Views:
    # The trainer stores the policy `embed` should use (`--views`, `--view-scale`) in its config.
    for source in (state.encoder_config or {}, state.config or {}):
        policy = source.get("views")
        if isinstance(policy, Mapping):
            return Views(**policy)
    return Views()


def model_info(
    state: Checkpoint,
    *,
    source: str,
    variant: str = "fp32",
    variant_auc: float | None = None,
    created: str | None = None,
) -> ModelInfo:
    """The contract for a model exported from the checkpoint ``state``.

    Args:
        state: a loaded trainer checkpoint.
        source: the checkpoint's path, for error messages.
        variant: fp32, int8 or fp16.
        variant_auc: the variant's validation AUC, measured at export.
        created: ISO 8601 UTC time; None means now.

    Raises:
        CheckpointError: when the checkpoint lacks a field the contract needs.
    """
    try:
        encoder = state.encoder_config
        val_auc = state.val_auc
        return ModelInfo(
            input_size=int(encoder["input_size"]),
            embedding_dim=int(encoder["embedding_dim"]),
            calibration=state.calibration,
            backbone=str(encoder["backbone"]),
            variant=variant,
            data_fingerprint=str(state.data_fingerprint),
            val_auc=float(val_auc) if val_auc is not None else None,
            created=created or time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            versions=versions(),
            views=_views(state),
            variant_auc=variant_auc,
            weights=weights_digest(state.encoder),
            training_artists=tuple(sorted({artist_digest(artist) for artist in state.train_artists})),
            collection=state.collection_policy(),
        )
    except KeyError as exc:
        raise CheckpointError(
            f"{source}: the checkpoint lacks {exc}, which the model contract needs"
        ) from None
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: the checkpoint's {exc}") from None


def attach(model: onnx.ModelProto, info: ModelInfo) -> None:
    """Write ``info`` into ``model.metadata_props`` under ``METADATA_KEY``, replacing an old one."""
    props = {p.key: p.value for p in model.metadata_props}
    props[METADATA_KEY] = info.to_json()
    onnx.helper.set_model_props(model, props)
