"""Model adapters, one module per family, registered by name and detected from the model config.

    >>> from vgmed_data.eval.adapters import load_adapter
    >>> adapter = load_adapter("Qwen/Qwen2.5-VL-7B-Instruct", dtype="bfloat16", device="cuda")  # doctest: +SKIP

Registered families: ``qwen2_vl``, ``qwen2_5_vl``, ``qwen3_vl``, ``llava``, ``llava_next``, ``gemma3``,
``huatuogpt_vision``, ``llava_med``, ``internvl`` (InternVL3 / 3.5 in transformers' format). Medical checkpoints
of these architectures (Lingshu, HuatuoGPT-Vision's Qwen2.5-VL release, LLaVA-Med in HF format, MedGemma) load the
same way, by path or Hub id; ``huatuogpt_vision`` and ``llava_med`` load the original LLaVA-code checkpoints of
HuatuoGPT-Vision-7B (model type ``llava_qwen2``), HuatuoGPT-Vision-34B (``llava_llama`` with 'huatuogpt' in its
path) and LLaVA-Med v1.5 (``llava_mistral``) onto transformers' LLaVA classes. Published checkpoints a family knows
by name (its descriptor's ``checkpoints``): ``huatuogpt_vision_7b_hf`` (``llava``, detected and prompted with its
authors' template), ``huatuogpt_vision_34b`` (``huatuogpt_vision``) and ``medvlm_r1`` (``qwen2_vl``).
"""

from __future__ import annotations

from vgmed_data.eval.adapters import (  # noqa: F401 - register
    gemma3,
    huatuogpt_vision,
    internvl,
    llava,
    llava_med,
    llava_next,
    qwen2_5_vl,
    qwen2_vl,
    qwen3_vl,
)
from vgmed_data.eval.adapters.base import (
    GENERAL_PROMPT,
    Adapter,
    AdapterOptions,
    Encoded,
    ImageLayout,
    question_prompt,
)
from vgmed_data.eval.adapters.loading import load_adapter
from vgmed_data.eval.adapters.family import Checkpoint, Family, InputRule, OfficialRoute
from vgmed_data.eval.adapters.registry import (
    adapter_class,
    adapter_for_config,
    descriptor,
    families,
    register,
    registered_families,
)

__all__ = ["GENERAL_PROMPT", "Adapter", "AdapterOptions", "Checkpoint", "Encoded", "Family", "ImageLayout",
           "InputRule", "OfficialRoute", "adapter_class", "adapter_for_config", "descriptor", "families", "load_adapter",
           "question_prompt", "register", "registered_families"]
