"""HuatuoGPT-Vision-7B from its original checkpoint (FreedomIntelligence/HuatuoGPT-Vision-7B), the model of the
VGMED paper's VGRefine table, on transformers' LLaVA classes.

The checkpoint is a LLaVA-code model (``model_type`` ``llava_qwen2``, architecture ``LlavaQwen2ForCausalLM``):
Qwen2-7B (28 layers x 28 heads, 4 KV heads), a CLIP ViT-L/14-336 tower (hidden state -2, CLS dropped:
24 x 24 = 576 image tokens) and a two-layer GELU projector. :mod:`~vgmed_data.eval.adapters.llava_original`
reads it and maps its weights; this module reproduces what the authors' chatbot feeds the model.

Facts and where they were confirmed (FreedomIntelligence/HuatuoGPT-Vision, commit a6476ac, unless stated):

* config keys (Hub file ``config.json``, commit 159f69d): ``model_type`` ``llava_qwen2``, ``architectures``
  ``["LlavaQwen2ForCausalLM"]``, ``mm_vision_tower`` ``./vit/clip_vit_large_patch14_336``,
  ``mm_projector_type`` ``mlp2x_gelu``, ``mm_vision_select_layer`` -2, ``mm_vision_select_feature`` ``patch``,
  ``mm_hidden_size`` 1024, ``image_aspect_ratio`` ``pad``, ``hidden_size`` 3584, 28 layers, 28 heads,
  4 KV heads, ``vocab_size`` 152064, ``eos_token_id`` 151643, ``tie_word_embeddings`` false;
* model class chosen by the folder name (``cli.py`` l.39-42), tokenizer from the folder, ``pad = eos``
  (l.47-50), CLIP image processor from the tower folder (l.51-56, ``clip_encoder.py`` l.25);
* image: ``expand2square`` with background ``int(255 * image_mean)``, image centred (offset
  ``(long - short) // 2``), applied ALWAYS (``if True or ...``, l.214-227), then the CLIP processor
  (``preprocess``, l.228: resize to 336, centre crop 336, normalise);
* prompt: ``<image>`` placeholder plus ``"\\n"`` before the text (``insert_image_placeholder``, l.172-176), the
  text stripped (l.151), ``"<|user|>\\n{h}\\n<|assistant|>\\n"`` (l.152); no system prompt, no chat template;
  ``<image>``, ``<s>``, ``</s>`` removed from user text (``input_moderation``, l.166-170);
* tokens: each text chunk around ``<image>`` tokenized with ``add_special_tokens=False`` and the image
  spliced in between (``tokenizer_image_token``, l.91-110; ``llava_arch.py`` l.386-413 replaces the
  placeholder by the 576 projected features). Here ``<image>`` is a special token added to the tokenizer
  (id = tokenizer length, 151646 for the real tokenizer, a spare row of the 152064-row embedding) and the
  processor expands it into 576 copies that the model overwrites with the features: same sequence, same
  positions. Added tokens split the text exactly where the chunks are split, so the ids are identical;
* answers decoded with ``skip_special_tokens=True`` (l.283). The authors' chatbot samples (l.21-27); the
  project decodes greedily, as the official VGMED code does (Medical-MLLMs-Fail @ c7263dd).

Not reproduced, on purpose: the chatbot's sampling settings (above) and the truncation of the embedded
sequence at ``tokenizer_model_max_length`` 4096 (``llava_arch.py`` l.424-428), which one-turn prompts of about
600 tokens never reach.

NOT confirmed at the source (inferred; no copy of the file was reachable): the weight names under
``model.vision_tower.vision_tower.vision_model.`` (from the module structure above; the Hub
``model.safetensors.index.json`` of commit 159f69d has 741 lines = 734 weights + 7 JSON lines, which is
exactly Qwen2-7B's 339 + CLIP ViT-L's 391 + the projector's 4, so the tower's weights are in the main shards),
the tokenizer having no ``<|user|>``/``<|assistant|>`` tokens (``added_tokens.json`` is 80 bytes, the size of
Qwen2's three), and the tower's ``preprocessor_config.json`` values (read from the checkpoint at load time,
never assumed). A wrong weight name is refused at load time, not loaded silently.

HuatuoGPT-Vision-34B (``model_type`` ``llava_llama``, Yi-34B) loads through this family too, as the published
checkpoint ``huatuogpt_vision_34b``. The authors' ``cli.py`` runs it through the same chatbot: the folder name
picks the class (l.39: ``'huatuogpt-vision-7b'`` -> ``LlavaQwen2ForCausalLM``; l.58: any other ``'huatuogpt'``
-> ``LlavaLlamaForCausalLM``, l.60-75: the same tokenizer, eos/pad and tower handling), and everything after that
(template, padding, splice) is shared. ``llava_llama.py`` l.32-55 is the LLaVA wrapper of transformers'
``LlamaForCausalLM`` (``model``, ``lm_head``, the same ``LlavaMetaModel`` tower and projector names) and its
forward uses the same ``prepare_inputs_labels_for_multimodal_new`` splice (l.97, ``llava_arch.py``). Because
``llava_llama`` is also the model type of the original LLaVA-1.5 checkpoints (another prompt), a ``llava_llama``
checkpoint loads here only under the authors' own rule, ``'huatuogpt'`` in its path or Hub id (case-insensitive,
as ``d.lower()`` in l.58); any other is refused in one line naming the transformers conversion of LLaVA-1.5.

HuatuoGPT-Vision-34B's files (Hub ``FreedomIntelligence/HuatuoGPT-Vision-34B``, commit f04c5e3 "update": its
file list, and ``config.json`` read on the blame page of ``main``): ``config.json`` (``LlavaLlamaForCausalLM``,
``hidden_size`` 7168, 60 layers, 56 heads, 8 KV heads, ``intermediate_size`` 20480, ``vocab_size`` 64000,
``rope_theta`` 5e6, ``rms_norm_eps`` 1e-6, ``max_position_embeddings`` 4096, ``bos``/``eos``/``pad`` ids
1/2/0, ``tie_word_embeddings`` false, ``mm_vision_tower`` ``./vit/clip_vit_large_patch14_336``, the same
``mm_*`` keys and values as the 7B, ``tokenizer_padding_side`` left), ``generation_config.json``, 15 shards +
``model.safetensors.index.json`` (945 lines = 938 weights + 7 JSON lines = Yi-34B's 543 + CLIP ViT-L's 391 + the
projector's 4: the tower's weights are in the shards, as for the 7B), ``tokenizer.model``, ``tokenizer.json``,
``tokenizer_config.json``, ``special_tokens_map.json`` and the same ``vit/clip_vit_large_patch14_336/`` folder
as the 7B. The language model is Yi-34B's: 01-ai/Yi-34B ``config.json`` (Hub commit 3ace5f0, "compatible with
Llama"): ``LlamaForCausalLM``, the same sizes, ``rope_theta`` 5e6, 4096 positions (Yi-34B-200K: 200000).
Its tokenizer is Yi's SentencePiece ``tokenizer.model`` (64000 pieces, ``<unk>`` 0, ``<|startoftext|>`` 1,
``<|endoftext|>`` 2; 01-ai/Yi-34B-200K ``tokenizer_config.json``, commit 00313b6: ``LlamaTokenizer``,
``add_bos_token`` false, ``legacy`` true). ``<image>`` is added after it (id 64000, one extra input-embedding
row, :func:`~vgmed_data.eval.adapters.llava_original.load_original_llava`). The authors tokenize each chunk
around ``<image>`` with the folder's tokenizer (transformers 4.40 reads ``tokenizer.json`` as it is): where
that tokenizer prefixes ``▁`` to a text (a ``Metaspace`` pre-tokenizer that prepends, or a ``Prepend``
normaliser), it does so for EACH chunk, so the tokenizer here is loaded to prefix every stretch of text
between special tokens (``legacy=True``), else none (:func:`chunk_prefix`); transformers 5 rebuilds a Llama
tokenizer's pre-tokenizer from those flags, not from ``tokenizer.json``.

NOT confirmed for the 34B (no copy was read): the contents of its ``tokenizer.json``, ``tokenizer_config.json``
(40 lines), ``special_tokens_map.json`` (24 lines) and ``generation_config.json`` (7 lines; the tiny copy
writes Yi's ids), and the weight names (inferred from the module structure and the index's size, as for the
7B). The tiny checkpoint writes the ``tokenizer.json`` transformers converts from the SentencePiece model
(``legacy``: a prefix per chunk); a real file without the prefix is followed too (tested).

The newer HuatuoGPT-Vision-7B-Qwen2.5VL is a transformers Qwen2.5-VL checkpoint and loads through the
``qwen2_5_vl`` adapter.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from vgmed_data.errors import SchemaError
from vgmed_data.eval.adapters.family import Checkpoint, Family, InputRule, OfficialRoute
from vgmed_data.eval.adapters.llava import LlavaAdapter
from vgmed_data.eval.adapters.llava_original import TEXT_MODEL_TYPES, load_original_llava, read_original_llava
from vgmed_data.eval.adapters.registry import register
from vgmed_data.geometry import BoxFormat

IMAGE_TOKEN = "<image>"
_MODERATED = ("<image>", "<s>", "</s>")  # cli.py input_moderation
AUTHORS_NAME_RULE = "huatuogpt"  # cli.py l.58: the substring of the lower-cased model path that selects llava_llama

HUATUOGPT_VISION_34B = Checkpoint(
    name="huatuogpt_vision_34b", repo="FreedomIntelligence/HuatuoGPT-Vision-34B", commit="f04c5e3",
    tiny="vgmed_data.eval.tiny_original:build_huatuogpt_vision_34b",
    files=("config.json", "generation_config.json", "model-000NN-of-00015.safetensors",
           "model.safetensors.index.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model",
           "tokenizer_config.json", "vit/clip_vit_large_patch14_336/{config,preprocessor_config}.json"),
    unconfirmed="the contents of tokenizer.json, tokenizer_config.json, special_tokens_map.json and "
                "generation_config.json; the weight names (from the module structure and the index's size)",
    detect=(("model_type", "llava_llama"),))


@register
class HuatuoGPTVisionAdapter(LlavaAdapter):
    descriptor = Family(
        name="huatuogpt_vision", model_types=("llava_qwen2", "llava_llama"), box_format=BoxFormat.XYXY_NORM,
        template="<|user|>\n{image}\n{text}\n<|assistant|>\n", input_rule=InputRule.PAD,
        official_route=OfficialRoute.HUATUO, tiny="vgmed_data.eval.tiny_original:build_huatuogpt_vision",
        checkpoints=(HUATUOGPT_VISION_34B,))
    image_placeholder = IMAGE_TOKEN
    prepend_bos = False
    source_layout: ClassVar[str] = "llava_qwen2 (original LLaVA code)"
    moderated: ClassVar[tuple[str, ...]] = _MODERATED  # removed from user text before the template
    tokenizer_options: ClassVar[dict[str, Any]] = {}  # AutoTokenizer.from_pretrained keyword arguments
    tower_weights: ClassVar[bool] = False  # the tower's weights from mm_vision_tower, not the shards' copy

    @classmethod
    def load_checkpoint(cls, source: str, *, dtype: Any, attn_implementation: str) -> tuple[Any, Any]:
        """(network, processor) of an original-layout checkpoint; another layout is refused naming the family."""
        layout = read_original_llava(source, family=cls.family)
        if layout.config["model_type"] == "llava_llama" and AUTHORS_NAME_RULE not in source.lower():
            raise SchemaError(
                "model type llava_llama without 'huatuogpt' in its path: the original LLaVA code's llava_llama is "
                "also LLaVA-1.5's (another prompt), and the authors load HuatuoGPT-Vision-34B only from a path "
                "containing 'huatuogpt' (FreedomIntelligence/HuatuoGPT-Vision a6476ac cli.py l.58)", path=source,
                fix="for LLaVA-1.5 load its transformers conversion (llava-hf/llava-1.5-7b-hf, family llava); for "
                    "HuatuoGPT-Vision-34B keep 'huatuogpt' in the folder name")
        processor = cls.processor_for(layout)
        image_token_id = int(processor.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN))
        network = load_original_llava(layout, image_token_id=image_token_id, dtype=dtype,
                                      attn_implementation=attn_implementation, family=cls.family,
                                      tower_weights=cls.tower_weights)
        eos = processor.tokenizer.eos_token_id
        network.generation_config.eos_token_id = eos  # cli.py l.49-50: eos and pad are the tokenizer's eos
        network.generation_config.pad_token_id = eos
        return network, processor

    @classmethod
    def processor_for(cls, layout: Any) -> Any:
        """A LLaVA processor: the checkpoint's tokenizer plus the ``<image>`` placeholder, the tower's CLIP
        preprocessing with square padding, no chat template (the family's template is fixed)."""
        import transformers
        from tokenizers import AddedToken

        # the wrapped language model's config: AutoTokenizer would otherwise parse config.json (unknown type)
        text_config = transformers.AutoConfig.for_model(TEXT_MODEL_TYPES[layout.config["model_type"]])
        options = cls.tokenizer_options
        if layout.config["model_type"] == "llava_llama":  # Yi's SentencePiece tokenizer (see the module docs)
            options = {"legacy": True, "add_prefix_space": chunk_prefix(layout.source)}
        tokenizer = transformers.AutoTokenizer.from_pretrained(layout.source, config=text_config, **options)
        tokenizer.add_tokens([AddedToken(IMAGE_TOKEN, special=True, normalized=False)], special_tokens=True)
        return transformers.LlavaProcessor(
            image_processor=layout.image_processor(), tokenizer=tokenizer,
            patch_size=int(layout.vision["patch_size"]), vision_feature_select_strategy=layout.feature_strategy,
            num_additional_image_tokens=1, image_token=IMAGE_TOKEN, chat_template=None)

    def chat_text(self, user_text: str, *, images: int = 1) -> str:
        """The authors' one-turn prompt (see the module docs); never a chat template."""
        self.check_image_count(images)
        for token in self.moderated:
            user_text = user_text.replace(token, "")
        # cli.py strips the whole "<image>\n" + text turn (l.151): only the text's trailing whitespace goes
        return self.default_template.format(image=self.image_placeholder, text=user_text.rstrip())

    def describe(self) -> dict[str, Any]:
        detected = dict(self.checkpoint.detect).get("model_type") if self.checkpoint is not None else None
        layout = f"{detected} (original LLaVA code)" if detected else self.source_layout  # the 34B's llava_llama
        return {**super().describe(), "checkpoint_layout": layout, "grid": self.grid_side}


def chunk_prefix(source: str) -> bool:
    """Whether the checkpoint's ``tokenizer.json`` puts SentencePiece's ``▁`` before a text it encodes (a
    prepending ``Metaspace`` pre-tokenizer or a ``Prepend`` normaliser); without a ``tokenizer.json``, what the
    ``legacy`` SentencePiece tokenizer does (a prefix)."""
    import transformers

    path = transformers.utils.cached_file(source, "tokenizer.json", _raise_exceptions_for_missing_entries=False)
    if path is None:
        return True
    with open(path, encoding="utf-8") as handle:
        backend = json.load(handle)

    def steps(part: dict[str, Any] | None) -> list[dict[str, Any]]:  # a Sequence's members, flattened
        if not part:
            return []
        if part.get("type") != "Sequence":
            return [part]
        return [step for member in part.get("normalizers") or part.get("pretokenizers") or [] for step in steps(member)]

    prepends = [p.get("prepend_scheme", "always" if p.get("add_prefix_space", True) else "never") != "never"
                for p in steps(backend.get("pre_tokenizer")) if p.get("type") == "Metaspace"]
    return any(prepends) or any(n.get("type") == "Prepend" for n in steps(backend.get("normalizer")))
