"""LLaVA-Med v1.5 (``microsoft/llava-med-v1.5-mistral-7b``) from its ORIGINAL checkpoint, on transformers' LLaVA.

The checkpoint is a LLaVA-code model (``model_type`` ``llava_mistral``, architecture ``LlavaMistralForCausalLM``):
Mistral-7B-Instruct-v0.2 (32 layers x 32 heads, 8 KV heads, 32000-token SentencePiece vocabulary), the CLIP
ViT-L/14-336 tower named by ``mm_vision_tower`` (hidden state -2, CLS dropped: 24 x 24 = 576 image tokens) and
a two-layer GELU projector. :mod:`~vgmed_data.eval.adapters.llava_original` reads it and maps its weights (the
same names as HuatuoGPT-Vision's); this module reproduces what the authors' evaluation script feeds the model.

Facts and where they were read (GitHub microsoft/LLaVA-Med at commit d406e3f unless stated):

* ``config.json``: a copy vendored in GitHub m2ai-lab/LLaVA-Med_Extension (commit 4bfc50a,
  ``llava-med-v1.5-mistral-7b/config.json``, beside the four shard names and the index): ``model_type``
  ``llava_mistral``, ``architectures`` ``["LlavaMistralForCausalLM"]``, ``mm_projector_type`` ``mlp2x_gelu``,
  ``mm_vision_select_layer`` -2, ``mm_vision_select_feature`` ``patch``, ``mm_hidden_size`` 1024,
  ``image_aspect_ratio`` ``pad``, ``mm_use_im_start_end`` and ``mm_use_im_patch_token`` false,
  ``hidden_size`` 4096, 32 layers, 32 heads, 8 KV heads, ``vocab_size`` 32000, ``rope_theta`` 1e6,
  ``sliding_window`` null, ``tie_word_embeddings`` false, ``tokenizer_model_max_length`` 2048, ``torch_dtype``
  bfloat16, ``transformers_version`` 4.36.2. Its ``mm_vision_tower`` is that user's local folder of
  ``clip-vit-large-patch14-336``; derivatives of the Hub file name ``openai/clip-vit-large-patch14-336``;
* weights (the same copy's ``model.safetensors.index.json``): ``model.embed_tokens``, ``model.layers.*``,
  ``model.norm``, ``lm_head``, ``model.mm_projector.{0,2}.*`` and a tower copy under
  ``model.vision_tower.vision_tower.vision_model.*``. The authors' loader drops that copy: the tower module is
  built with ``delay_load=True`` (``llava_arch.py`` l.34-36, ``clip_encoder.py`` l.17-20), so those names match
  no parameter, and ``builder.py`` l.70-72 then loads ``CLIPVisionModel.from_pretrained(mm_vision_tower)``
  (``clip_encoder.py`` l.22-24). This adapter does the same (``tower_weights``);
* tokenizer: ``AutoTokenizer.from_pretrained(model_path)`` (``builder.py`` l.30) of the checkpoint's
  SentencePiece ``tokenizer.model``; ``mm_use_im_patch_token`` false, so no token is added and the embedding is
  not resized (l.62-68);
* prompt: the ``mistral_instruct`` conversation (``conversation.py`` l.407-416: ``SeparatorStyle.LLAMA_2``, empty
  system, so l.77-97 give ``[INST] {message} [/INST]``), which the README's evaluation command passes
  (``--conv-mode mistral_instruct``, README l.146) and ``serve/cli.py`` l.42 forces; the message is
  ``"<image>\\n" + text`` with ``<image>`` removed from the text and the text stripped (``eval/model_vqa.py``
  l.48-58). The Lingshu authors' toolkit prompts LLaVA-Med the same way (GitHub alibaba-damo-academy/MedEvalKit
  9b12e3b ``models/LLava_Med/LLava_Med_hf.py`` l.46: ``conv_templates["mistral_instruct"]``, images converted to
  RGB l.55-57);
* tokens: ``tokenizer_image_token`` (``mm_utils.py`` l.49-68) tokenizes the text before and after ``<image>``
  separately, each with the BOS and SentencePiece's leading ``▁``, keeps one BOS and puts ``-200`` between them;
  ``prepare_inputs_labels_for_multimodal`` (``llava_arch.py`` l.175-213) puts the 576 projected features there.
  Here ``<image>`` is a special token added after the vocabulary (id 32000, one extra input-embedding row that
  is never read: :func:`~vgmed_data.eval.adapters.llava_original.load_original_llava`), expanded by the
  processor into 576 copies that the model overwrites with the features. The tokenizer is loaded with
  ``legacy=True``: its pre-tokenizer then prefixes ``▁`` to each stretch of text between special tokens, which
  is exactly the per-chunk tokenization of the original (tests/eval/test_llava_med.py checks it against
  SentencePiece itself);
* image: ``process_images`` (``mm_utils.py`` l.32-46): ``expand2square`` on ``tuple(int(255 * mean))``, then the
  tower's CLIP processor (resize 336, centre crop 336, normalise).

Not reproduced, on purpose: ``expand2square`` pastes the image at a RANDOM offset, ``(d // 2)`` or
``(d // 2) + 1`` pixels (``mm_utils.py`` l.20-28; ``model_vqa.py`` seeds 0 first); this adapter centres it at
``d // 2``, the first choice. A grayscale ``L`` image, which ``model_vqa.py`` opens without ``convert("RGB")``, is
padded there in the grey ``int(255 * mean(mean))`` (l.37-38); this adapter converts every image to RGB first
(background ``(122, 116, 104)``). The evaluation script samples at its ``--temperature`` (the README uses 0.0:
greedy, as here) and runs float16 (``builder.py`` l.25); the dtype here is the user's choice.

Hub files (``microsoft/llava-med-v1.5-mistral-7b`` at commit c130aa0, file list only): ``config.json``,
``generation_config.json``, four shards + ``model.safetensors.index.json``, ``tokenizer.model``,
``tokenizer_config.json``, ``special_tokens_map.json``; ``vgmed eval tiny llava_med`` writes that layout
(:func:`vgmed_data.eval.tiny_original.build_llava_med`).

NOT confirmed at the source (no copy was read): the Hub ``tokenizer_config.json`` (its ``legacy`` flag is
overridden here, see above), and whether the shards' tower copy equals ``openai/clip-vit-large-patch14-336``
(it does not matter: the authors' loader does not read it).
"""

from __future__ import annotations

from typing import Any, ClassVar

from vgmed_data.eval.adapters.family import Family, InputRule, OfficialRoute
from vgmed_data.eval.adapters.huatuogpt_vision import IMAGE_TOKEN, HuatuoGPTVisionAdapter
from vgmed_data.eval.adapters.registry import register
from vgmed_data.geometry import BoxFormat

@register
class LlavaMedAdapter(HuatuoGPTVisionAdapter):
    descriptor = Family(
        name="llava_med", model_types=("llava_mistral",), box_format=BoxFormat.XYXY_NORM,
        template="[INST] {image}\n{text} [/INST]", input_rule=InputRule.PAD, official_route=OfficialRoute.HUATUO,
        tiny="vgmed_data.eval.tiny_original:build_llava_med")
    image_placeholder = IMAGE_TOKEN
    prepend_bos = True  # the tokenizer's BOS starts the first chunk (mm_utils.py l.57-59)
    source_layout: ClassVar[str] = "llava_mistral (original LLaVA-Med code)"
    moderated: ClassVar[tuple[str, ...]] = (IMAGE_TOKEN,)  # model_vqa.py l.48
    tokenizer_options: ClassVar[dict[str, Any]] = {"legacy": True}  # see the module docs
    tower_weights: ClassVar[bool] = True

    @classmethod
    def load_checkpoint(cls, source: str, *, dtype: Any, attn_implementation: str) -> tuple[Any, Any]:
        _require_sentencepiece()
        return super().load_checkpoint(source, dtype=dtype, attn_implementation=attn_implementation)

    def chat_text(self, user_text: str, *, images: int = 1) -> str:
        """``<s>[INST] <image>\\n{text} [/INST]`` (see the module docs); never a chat template."""
        self.check_image_count(images)
        for token in self.moderated:
            user_text = user_text.replace(token, "")
        text = self.default_template.format(image=self.image_placeholder, text=user_text.strip())
        return self.tokenizer.bos_token + text


def _require_sentencepiece() -> None:
    """transformers reads a SentencePiece ``tokenizer.model`` with the sentencepiece and protobuf packages."""
    import importlib.util

    from vgmed_data.errors import MissingDependencyError

    def absent(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is None
        except ModuleNotFoundError:  # the parent package (google) is missing
            return True

    missing = [name for name, module in (("sentencepiece", "sentencepiece"), ("protobuf", "google.protobuf"))
               if absent(module)]
    if missing:
        raise MissingDependencyError(f"LLaVA-Med's SentencePiece tokenizer.model needs {' and '.join(missing)}",
                                     fix=f"pip install {' '.join(missing)}")
