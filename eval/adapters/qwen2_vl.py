"""Qwen2-VL: boxes as ``(x1,y1),(x2,y2)`` on a 0-1000 grid; pixel budget default 256*28*28 (the usual
evaluation setting; the checkpoint default, 16384*28*28, blows up memory)."""

from __future__ import annotations

from vgmed_data.eval.adapters.family import Checkpoint, Family, InputRule, OfficialRoute
from vgmed_data.eval.adapters.qwen_base import QWEN_TEMPLATE, QwenAdapter
from vgmed_data.eval.adapters.registry import register
from vgmed_data.geometry import BoxFormat


# MedVLM-R1 (its authors' Hub repo JZPeterPan/MedVLM-R1, tree at commit bee6757: tagged ``qwen2_vl``; one 4.42 GB
# ``model.safetensors``, i.e. Qwen2-VL-2B in bfloat16; ``chat_template.json`` 1.05 kB, ``preprocessor_config.json``,
# ``added_tokens.json`` 392 B, Qwen2 tokenizer files, ``trainer_state.json``): a plain Qwen2-VL checkpoint, so no
# detection rule and no template of its own; its chat template is used as for any Qwen2-VL checkpoint.
MEDVLM_R1 = Checkpoint(
    name="medvlm_r1", repo="JZPeterPan/MedVLM-R1", commit="bee6757", tiny="vgmed_data.eval.tiny:write_medvlm_r1",
    files=("config.json", "generation_config.json", "preprocessor_config.json", "chat_template.json",
           "added_tokens.json", "special_tokens_map.json", "tokenizer_config.json", "tokenizer.json", "vocab.json",
           "merges.txt", "model.safetensors"),
    unconfirmed="the contents of its files: config.json in the flat form of Qwen2-VL-Instruct's, the chat template "
                "as Qwen2-VL-Instruct's (same file size), the generation config; the prompt its authors trained "
                "with (a reasoning format in the question text) is not added")


@register
class Qwen2VLAdapter(QwenAdapter):
    descriptor = Family(
        name="qwen2_vl", model_types=("qwen2_vl",), box_format=BoxFormat.XYXY_1000, template=QWEN_TEMPLATE,
        input_rule=InputRule.RESIZE, official_route=OfficialRoute.QWEN, max_pixels=256 * 28 * 28,
        min_pixels=4 * 28 * 28, output_format="qwen2_vl", tiny="vgmed_data.eval.tiny:write_qwen2_vl",
        checkpoints=(MEDVLM_R1,))
