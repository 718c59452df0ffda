"""Model files: tensors plus a JSON-able config, loaded without ever unpickling code.

A model file is a ``torch.save`` of a plain dict::

    {"format": "lutcli-model", "format_version": 1 or 2, "model": NAME, "config": {...},
     "scales": [F, ...], "state_dict": {name: tensor}, "info": {...}}

and is read with ``torch.load(weights_only=True)``, whose unpickler only rebuilds tensors and
plain containers: a file that asks for anything else (a hostile pickle) is refused before any of
its code can run. ``scales`` is the pyramid the model was trained on (``LutModel.scales``).
"""

from __future__ import annotations

import io
import json
import os
import pickletools
import warnings
from pathlib import Path
from typing import Any

import torch

from lutcli.errors import LutcliError, ModelFileError, os_error_reason
from lutcli.fileutil import atomic_write
from lutcli.models.base import LutModel, check_scales
from lutcli.models.registry import MODELS, MULTISCALE, create_model

FORMAT = "lutcli-model"
# Version 2 brought "scales", which decides what a model trained on a pyramid chooses its LUT
# from: a reader of version 1 would pass over it and give other colors. A model without them is
# still written as version 1, which every lutcli reads.
FORMAT_VERSION = 2
_VERSION_WITHOUT_SCALES = 1
# Names of a file's tensors shown when they do not fit the model (a file may hold thousands).
SHOWN_NAMES = 3
# Bytes looked at to tell what a file that is not a model file is.
_SNIFFED = 1 << 16
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format
_PICKLE_MAGIC = b"\x80"  # a pickle of protocol 2 or later (also torch.save's legacy format)


def save_model(
    path: str | os.PathLike, model: LutModel, info: dict[str, Any] | None = None
) -> None:
    """Write ``model`` atomically; ``info`` is JSON-able provenance (training figures, sources)."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION if model.scales else _VERSION_WITHOUT_SCALES,
        "model": model.name,
        "config": model.config(),
        "scales": list(model.scales),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "info": info or {},
    }
    json.dumps([payload["config"], payload["info"]])  # fail here, not at load time
    save_payload(path, payload)


def save_payload(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write a dict of tensors and plain values atomically (model files, training states).

    The file is serialised in memory first (as large as the file: bounded by the model size
    limit), so a write that fails (a full disk) is reported as what it is, one line naming the
    file, instead of torch's "unexpected pos"; the previous file at ``path`` stays intact.
    """
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    try:
        with atomic_write(path) as handle:
            handle.write(buffer.getbuffer())
    except OSError as error:
        raise LutcliError(f"cannot write '{path}': {os_error_reason(error)}") from None


def load_payload(
    path: str | os.PathLike, expected_format: str = FORMAT, newest_version: int = FORMAT_VERSION
) -> dict[str, Any]:
    """Read a file written by ``save_payload`` in ``expected_format``, up to its
    ``newest_version``; anything that needs code to load is refused."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no model file at '{path}'")
    try:
        with open(path, "rb") as handle:
            start = handle.read(_SNIFFED)
    except OSError as error:
        raise ModelFileError(f"cannot read '{path}': {os_error_reason(error)}") from None
    if not start.startswith((_ZIP_MAGIC, _PICKLE_MAGIC)):
        raise ModelFileError(_what_it_is(path, start))
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # garbage makes torch's reader fail in many ways
        code = _code_asked_for(path, error)
        if code is not None:
            raise ModelFileError(
                f"refused '{path}': loading it would run code ({code}); nothing in it was run. "
                "A lutcli model file holds only tensors and settings"
            ) from None
        raise ModelFileError(
            f"'{path}' is not a lutcli model file (a damaged PyTorch file, or one that holds "
            "more than tensors and settings)"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise ModelFileError(f"'{path}' is not a lutcli model file")
    version = payload.get("format_version")
    if type(version) is not int or version < 1:
        raise ModelFileError(f"'{path}' is a damaged lutcli model file: format version {version!r}")
    if version > newest_version:
        raise ModelFileError(
            f"'{path}' has format version {version}; this lutcli reads up to "
            f"{newest_version} (upgrade lutcli)"
        )
    return payload


def _what_it_is(path: Path, start: bytes) -> str:
    """Why a file that is neither a zip nor a pickle is not a model file: what it is instead."""
    if not start:
        return f"'{path}' is not a lutcli model file (it is empty)"
    if b"\0" not in start and (b"LUT_3D_SIZE" in start or b"LUT_1D_SIZE" in start):
        return f"'{path}' is a .cube LUT file, not a lutcli model: use --lut"
    return f"'{path}' is not a lutcli model file (not a PyTorch file)"


def _code_asked_for(path: Path, error: Exception) -> str | None:
    """The global (a function or class) a file's pickle would import, when torch's unpickler
    refused it for that; None when the file is merely broken. The opcodes are read, never run."""
    message = str(error)
    marker = "GLOBAL "
    if marker in message:
        return message[message.index(marker) + len(marker) :].split()[0]
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(_PICKLE_MAGIC):  # a zip: torch names what it refuses (above)
        return None
    strings: list[str] = []
    try:
        for opcode, argument, _ in pickletools.genops(data):
            if opcode.name in ("GLOBAL", "INST"):
                return str(argument).replace(" ", ".")
            if opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                return ".".join(strings[-2:])
            if isinstance(argument, str):
                strings.append(argument)
    except Exception:  # a truncated or garbled pickle: no more opcodes to read
        return None
    return None


def load_model(path: str | os.PathLike) -> tuple[LutModel, dict[str, Any]]:
    """Rebuild the model stored at ``path`` (on the CPU) and return it with its info dict.

    A file whose tensors hold NaN or infinity is refused: its model would turn every photo
    black (or worse) without a word. A multi-scale model saved as a model of its own (name
    "multiscale", as lutcli wrote them before ``scales`` were every model's) loads as the model
    it wrapped, trained at its scales.
    """
    payload = load_payload(path)
    try:
        model_name, state, config = payload["model"], payload["state_dict"], payload["config"]
        scales = payload.get("scales", [])
        info = payload.get("info") or {}
        if not isinstance(model_name, str):
            raise TypeError(f"its model is a {type(model_name).__name__}, not a name")
        if not isinstance(state, dict) or not isinstance(config, dict):
            raise TypeError("its state_dict and config must be dicts")
        if not isinstance(info, dict):
            raise TypeError(f"its info is a {type(info).__name__}, not a dict")
        for name, tensor in state.items():
            if not isinstance(tensor, torch.Tensor):
                raise TypeError(f"{name} is a {type(tensor).__name__}, not a tensor")
        if model_name == MULTISCALE:
            model_name, config, scales, state = _unwrapped(config, state)
        scales = check_scales(scales)
        if model_name in MODELS and MODELS[model_name].adaptive:
            # Adaptive models saved before feature version 2 do not name theirs.
            config = {"features": 1, **config}
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"'{path}' is a damaged lutcli model file: {error}") from None
    broken = [
        name
        for name, tensor in state.items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    if broken:
        raise ModelFileError(
            f"refused '{path}': NaN or infinite values in {_names(broken)} "
            "(did its training diverge?)"
        )
    try:
        model = create_model(model_name, **config)
    except LutcliError as error:  # an unknown model, a bad or too large configuration
        raise ModelFileError(f"'{path}' cannot be loaded: {error}") from None
    problem = _state_problem(model, state)
    if problem:
        raise ModelFileError(f"'{path}' is a damaged lutcli model file: {problem}")
    try:
        model.load_state_dict(state)
    except RuntimeError as error:  # what the checks above missed: its first line is the cause
        reason = str(error).strip().splitlines()[0]
        raise ModelFileError(f"'{path}' is a damaged lutcli model file: {reason}") from None
    model.scales = scales
    model.eval()
    return model, dict(info)


def _unwrapped(
    config: dict[str, Any], state: dict[str, torch.Tensor]
) -> tuple[str, dict[str, Any], Any, dict[str, torch.Tensor]]:
    """The name, config, scales and tensors of the model a "multiscale" record wraps: its config
    is {lut_size, model, scales, model_config}, its tensors are the wrapped model's under
    "inner." beside the step counter "steps_taken" (which training now keeps itself)."""
    inner = config["model_config"]
    if not isinstance(inner, dict):
        raise TypeError("its model_config must be a dict")
    tensors = {name.removeprefix("inner."): t for name, t in state.items() if name != "steps_taken"}
    return config["model"], {**inner, "lut_size": config["lut_size"]}, config["scales"], tensors


def _state_problem(model: LutModel, state: dict[str, torch.Tensor]) -> str:
    """What keeps ``state`` from being ``model``'s tensors, in one short line; '' if nothing."""
    expected = model.state_dict()
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    problems = []
    if missing:
        problems.append(f"missing {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected {_names(unexpected)}")
    for name, tensor in expected.items():
        if name in state and state[name].shape != tensor.shape:
            problems.append(
                f"size mismatch for {name}: {tuple(state[name].shape)} in the file, "
                f"{tuple(tensor.shape)} in a {model.name} model of its config"
            )
            break
    return "; ".join(problems)


def _names(names: list[str]) -> str:
    """Tensor names for a message: the first SHOWN_NAMES, then how many more."""
    shown = ", ".join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return f"{len(names)} tensor(s) ({shown}{f' and {more} more' if more > 0 else ''})"
