"""Load a checkpoint (local path or Hub id) with the adapter its config names.

The adapter is chosen by ``model_type`` in the checkpoint's own ``config.json`` (read as JSON, so checkpoints
of model types transformers does not know, such as the original LLaVA-code layout of HuatuoGPT-Vision, are
detected too). A family whose checkpoints are not transformers models defines a ``load_checkpoint``
classmethod returning ``(network, processor)``; every other family loads with
``AutoModelForImageTextToText`` and its ``load_processor``.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

from vgmed_data.eval.adapters.base import Adapter, AdapterOptions
from vgmed_data.eval.adapters.registry import adapter_for_config
from vgmed_data.errors import InvalidInputError, require

DTYPES = ("float32", "bfloat16", "float16")


def resolve_dtype(name: str) -> Any:
    torch = require("torch", extra="eval", purpose="running a model")
    if name not in DTYPES:
        raise InvalidInputError(f"unknown dtype {name!r}", fix=f"use one of: {', '.join(DTYPES)}")
    return getattr(torch, name)


def load_adapter(model: str | os.PathLike[str], *, dtype: str = "float32", device: str = "cpu",
                 options: AdapterOptions | None = None, attn_implementation: str = "sdpa") -> Adapter:
    """Load ``model`` and wrap it in the adapter its ``config.model_type`` names.

    The language model runs on ``attn_implementation`` (SDPA by default); attention capture switches chosen
    layers only, inside :func:`vgmed_data.eval.capture.capture_attention`.
    """
    transformers = require("transformers", extra="eval", purpose="loading a model")
    from vgmed_data.eval.adapters.llava_original import read_json

    source = str(model)
    model_type = read_json(source, "config.json").get("model_type")
    cls = adapter_for_config(SimpleNamespace(model_type=model_type), source=source)
    own_loader = getattr(cls, "load_checkpoint", None)
    if own_loader is not None:
        network, processor = own_loader(source, dtype=resolve_dtype(dtype), attn_implementation=attn_implementation)
    else:
        processor = cls.load_processor(source)
        network = transformers.AutoModelForImageTextToText.from_pretrained(
            source, dtype=resolve_dtype(dtype), attn_implementation=attn_implementation)
    network.to(device)
    network.eval()
    return cls(network, processor, options=options)
