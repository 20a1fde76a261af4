"""Load a checkpoint (local path or Hub id) with the adapter its config names.

The adapter is chosen by ``model_type`` in the checkpoint's own ``config.json`` (read as JSON, so checkpoints
of model types transformers does not know, such as the original LLaVA-code layout of HuatuoGPT-Vision, are
detected too). Within the family, a published checkpoint whose detection rule the config meets
(:meth:`~vgmed_data.eval.adapters.family.Family.checkpoint_for`) is handed to the adapter. A family whose
checkpoints are not transformers models defines a ``load_checkpoint`` classmethod returning
``(network, processor)``; every other family loads with ``AutoModelForImageTextToText`` and its
``load_processor``.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

from vgmed_data.eval.adapters.base import Adapter, AdapterOptions
from vgmed_data.eval.adapters.registry import adapter_for_config
from vgmed_data.errors import InvalidInputError, require
from vgmed_data.locations import check_hub_repo, local_or_hub

DTYPES = ("float32", "bfloat16", "float16")


def resolve_dtype(name: str) -> Any:
    torch = require("torch", extra="eval", purpose="running a model")
    if name not in DTYPES:
        raise InvalidInputError(f"unknown dtype {name!r}", fix=f"use one of: {', '.join(DTYPES)}")
    return getattr(torch, name)


def check_device(device: str) -> None:
    """Refuse a device this machine does not have (``cuda`` without CUDA, ``cuda:3`` on a 1-GPU machine) with a
    one-line error, before a model is loaded onto it."""
    torch = require("torch", extra="eval", purpose="running a model")
    try:
        target = torch.device(device)
    except RuntimeError as error:
        raise InvalidInputError(f"unknown device {device!r} ({error})", fix="use cpu, cuda or cuda:N") from error
    if target.type == "cpu":
        return
    if target.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"--device {device}: no CUDA device is available here (torch {torch.__version__})",
                                fix="use --device cpu, or run where torch sees an NVIDIA GPU")
    try:
        torch.empty(0, device=target)
    except (RuntimeError, AssertionError) as error:  # an index past the device count; a backend not built in
        count = torch.cuda.device_count() if target.type == "cuda" else None
        raise InvalidInputError(f"--device {device} cannot be used here ({' '.join(str(error).split())[:160]})"
                                + (f"; CUDA devices: {count}" if count is not None else ""),
                                fix="use --device cpu, or a device this machine has") from error


def load_adapter(model: str | os.PathLike[str], *, dtype: str = "float32", device: str = "cpu",
                 options: AdapterOptions | None = None, attn_implementation: str = "sdpa") -> Adapter:
    """Load ``model`` and wrap it in the adapter its ``config.model_type`` names.

    The language model runs on ``attn_implementation`` (SDPA by default); attention capture switches chosen
    layers only, inside :func:`vgmed_data.eval.capture.capture_attention`.
    """
    transformers = require("transformers", extra="eval", purpose="loading a model")
    from vgmed_data.eval.adapters.llava_original import read_json

    check_device(device)  # before anything is read or loaded
    location = local_or_hub(model, what="model checkpoint folder")
    if isinstance(location, str):
        check_hub_repo(location, repo_type="model")
    source = str(model)
    config = read_json(source, "config.json")
    cls = adapter_for_config(SimpleNamespace(model_type=config.get("model_type")), source=source)
    own_loader = getattr(cls, "load_checkpoint", None)
    if own_loader is not None:
        network, processor = own_loader(source, dtype=resolve_dtype(dtype), attn_implementation=attn_implementation)
    else:
        processor = cls.load_processor(source)
        network = transformers.AutoModelForImageTextToText.from_pretrained(
            source, dtype=resolve_dtype(dtype), attn_implementation=attn_implementation)
    network.to(device)
    network.eval()
    return cls(network, processor, options=options, checkpoint=cls.descriptor.checkpoint_for(config))
