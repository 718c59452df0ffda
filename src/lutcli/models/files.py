"""Model files: tensors plus a JSON-able config, loaded without ever unpickling code.

A model file is a ``torch.save`` of a plain dict::

    {"format": "lutcli-model", "format_version": 1, "model": NAME, "config": {...},
     "state_dict": {name: tensor}, "info": {...}}

and is read with ``torch.load(weights_only=True)``, whose unpickler only rebuilds tensors and
plain containers: a file that asks for anything else (a hostile pickle) is refused before any of
its code can run.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from lutcli.errors import LutcliError, ModelFileError
from lutcli.fileutil import atomic_write
from lutcli.models.base import LutModel
from lutcli.models.registry import create_model

FORMAT = "lutcli-model"
FORMAT_VERSION = 1


def save_model(
    path: str | os.PathLike, model: LutModel, info: dict[str, Any] | None = None
) -> None:
    """Write ``model`` atomically; ``info`` is JSON-able provenance (training figures, sources)."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model.name,
        "config": model.config(),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "info": info or {},
    }
    json.dumps([payload["config"], payload["info"]])  # fail here, not at load time
    save_payload(path, payload)


def save_payload(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write a dict of tensors and plain values atomically (model files, training states)."""
    with atomic_write(path) as handle:
        torch.save(payload, handle)


def load_payload(path: str | os.PathLike, expected_format: str = FORMAT) -> dict[str, Any]:
    """Read a file written by ``save_payload``; anything that needs code to load is refused."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no model file at '{path}'")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ModelFileError(
            f"refused '{path}': not a lutcli model (it holds more than tensors and settings; "
            "nothing in it was run)"
        ) from None
    except Exception:  # garbage makes torch's reader fail in many ways (KeyError, EOFError, ...)
        raise ModelFileError(
            f"'{path}' is not a lutcli model file (unreadable or corrupt)"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise ModelFileError(f"'{path}' is not a lutcli model file")
    version = payload.get("format_version")
    if type(version) is not int or version < 1:
        raise ModelFileError(f"'{path}' is a damaged lutcli model file: format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"'{path}' has model format version {version}; this lutcli reads up to "
            f"{FORMAT_VERSION} (upgrade lutcli)"
        )
    return payload


def load_model(path: str | os.PathLike) -> tuple[LutModel, dict[str, Any]]:
    """Rebuild the model stored at ``path`` (on the CPU) and return it with its info dict."""
    payload = load_payload(path)
    try:
        model = create_model(payload["model"], **payload["config"])
        model.load_state_dict(payload["state_dict"])
        info = payload.get("info") or {}
        if not isinstance(info, dict):
            raise TypeError(f"its info is a {type(info).__name__}, not a dict")
    except (KeyError, TypeError, RuntimeError, LutcliError) as error:
        reason = " ".join(str(error).split())  # load_state_dict puts the cause on later lines
        raise ModelFileError(f"'{path}' is a damaged lutcli model file: {reason}") from None
    model.eval()
    return model, dict(info)
