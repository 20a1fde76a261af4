"""Checkpoints saved by the original LLaVA code (haotian-liu/LLaVA and its forks), read onto transformers classes.

Such a checkpoint is not a transformers model: its ``config.json`` is the language model's config plus ``mm_*``
keys under a model type of the fork's own (``llava_qwen2``), its weights keep the fork's module names, and its
CLIP vision tower's config and image-processor settings live in a sub-folder named by ``mm_vision_tower``. This
module reads those files (local folder or Hub id, without ``trust_remote_code`` and without the fork's
package), checks that the layout is the one transformers' LLaVA can express (one CLIP tower, one feature layer,
a two-layer GELU projector, flat patch merge), and loads the weights into
:class:`transformers.LlavaForConditionalGeneration` under a key mapping:

====================================================  ===============================================
original name (LLaVA code, transformers 4.40 CLIP)    transformers 5 ``LlavaForConditionalGeneration``
====================================================  ===============================================
``model.vision_tower.vision_tower.vision_model.*``    ``model.vision_tower.*``
``model.mm_projector.0.*`` / ``model.mm_projector.2.*``  ``model.multi_modal_projector.linear_1/2.*``
``model.embed_tokens``, ``model.layers.*``, ``model.norm``  ``model.language_model.*``
``lm_head.weight``                                    ``lm_head.weight``
====================================================  ===============================================

Where the names come from (FreedomIntelligence/HuatuoGPT-Vision at commit a6476ac):
``llava/model/language_model/llava_qwen2.py`` l.42-55 (the causal LM holds ``model`` = the LLaVA-Qwen2 model and
``lm_head``), ``llava/model/llava_arch.py`` l.32-34 (``model.vision_tower`` = the CLIP wrapper,
``model.mm_projector``), ``llava/model/multimodal_encoder/clip_encoder.py`` l.27 (the wrapper's ``vision_tower``
is a ``CLIPVisionModel``, whose transformers-4.x weights sit under ``vision_model.``),
``llava/model/multimodal_projector/builder.py`` l.39-46 (``mlp2x_gelu`` = ``Sequential(Linear, GELU, Linear)``,
indices 0 and 2). Any missing or unexpected weight is refused, so a wrong name cannot load silently.
LLaVA-Med v1.5 (``llava_mistral``) has the same names (microsoft/LLaVA-Med d406e3f
``llava/model/language_model/llava_mistral.py`` l.19-33, ``llava/model/llava_arch.py`` l.29-36); its tower's
weights are read from ``mm_vision_tower`` instead of the shards (``load_original_llava``, ``tower_weights``).

Feature selection (``clip_encoder.py`` l.15-16, 39-47): hidden state ``mm_vision_select_layer`` of the tower;
``patch`` drops the CLS token (transformers' ``vision_feature_select_strategy="default"``); ``cls_patch`` (CLS
kept, no square grid) is refused. ``multimodal_encoder/builder.py`` l.6-14 resolves ``mm_vision_tower`` relative
to the checkpoint folder, else as a path or Hub id of its own.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from vgmed_data.errors import FileFormatError, SchemaError, SourceNotFoundError, require

# checkpoint model type -> the transformers text model type it wraps (HuatuoGPT-Vision-7B: llava_qwen2.py l.31-32;
# HuatuoGPT-Vision-34B: FreedomIntelligence/HuatuoGPT-Vision a6476ac llava/model/language_model/llava_llama.py
# l.32-33, a LlamaConfig; LLaVA-Med v1.5: microsoft/LLaVA-Med d406e3f llava/model/language_model/llava_mistral.py
# l.15-16, a MistralConfig)
TEXT_MODEL_TYPES = {"llava_qwen2": "qwen2", "llava_llama": "llama", "llava_mistral": "mistral"}

KEY_MAPPING = {
    r"^model\.vision_tower\.vision_tower\.vision_model\.": "model.vision_tower.",
    r"^model\.mm_projector\.0\.": "model.multi_modal_projector.linear_1.",
    r"^model\.mm_projector\.2\.": "model.multi_modal_projector.linear_2.",
    r"^model\.(embed_tokens|layers|norm)\.": r"model.language_model.\1.",
}

# config.json keys of the LLaVA code that are not the language model's
_LLAVA_KEYS = re.compile(r"^(mm_|image_|tokenizer_|tune_mm|use_mm|freeze_mm|_)|^(architectures|model_type|"
                         r"torch_dtype|dtype|transformers_version|use_cache)$")


def read_json(source: str, filename: str) -> dict[str, Any]:
    """``filename`` of the checkpoint ``source`` (folder or Hub id), parsed; a missing file is a typed error."""
    transformers = require("transformers", extra="eval", purpose="reading a checkpoint")
    try:
        path = transformers.utils.cached_file(source, filename, _raise_exceptions_for_missing_entries=False)
    except OSError as error:
        raise SourceNotFoundError(f"cannot read {filename} ({error})", path=source,
                                  fix="pass a checkpoint folder or a Hub id you can reach") from error
    if path is None:
        where = ("the folder has no" if Path(source).is_dir() else
                 "not a local folder, and no Hub repository (or cached copy) holds")
        raise SourceNotFoundError(f"{where} {filename}", path=source,
                                  fix="pass the complete checkpoint folder or Hub id (config, tokenizer, weights)")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise FileFormatError(f"{filename} is not readable JSON ({error})", path=path) from error


@dataclass(frozen=True)
class OriginalLlava:
    """An original-layout checkpoint's three config files: the model's, its CLIP tower's, its image processor's."""

    source: str
    config: dict[str, Any]
    vision: dict[str, Any]
    preprocessor: dict[str, Any]

    @property
    def grid_side(self) -> int:
        return int(self.vision["image_size"]) // int(self.vision["patch_size"])

    feature_strategy: ClassVar[str] = "default"  # 'patch' features: CLS dropped (the only layout accepted)

    def llava_config(self, *, image_token_id: int) -> Any:
        """The equivalent :class:`transformers.LlavaConfig` (text config of the wrapped type, CLIP vision)."""
        import transformers

        text = {k: v for k, v in self.config.items() if not _LLAVA_KEYS.search(k)}
        text.update(model_type=TEXT_MODEL_TYPES[self.config["model_type"]], use_cache=True)
        vision = {**self.vision, "model_type": "clip_vision_model"}
        return transformers.LlavaConfig(
            text_config=text, vision_config=vision, image_token_index=image_token_id,
            image_seq_length=self.grid_side ** 2,
            vision_feature_layer=int(self.config.get("mm_vision_select_layer", -2)),
            vision_feature_select_strategy=self.feature_strategy, projector_hidden_act="gelu",
            multimodal_projector_bias=True, tie_word_embeddings=bool(self.config.get("tie_word_embeddings", False)))

    def image_processor(self) -> Any:
        """The tower's CLIP preprocessing with LLaVA's square padding first (HuatuoGPT-Vision ``cli.py``
        l.214-228: ``expand2square`` on the mean colour ``int(255 * mean)``, image centred, then the CLIP
        processor, here with ``do_pad``, which pads exactly that way)."""
        import transformers

        prep = self.preprocessor
        size, crop = prep.get("size", 336), prep.get("crop_size", 336)
        shortest = int(size["shortest_edge"] if isinstance(size, dict) else size)
        crop_h, crop_w = (int(crop["height"]), int(crop["width"])) if isinstance(crop, dict) else (int(crop),) * 2
        return transformers.LlavaImageProcessorPil(
            do_pad=True, size={"shortest_edge": shortest}, crop_size={"height": crop_h, "width": crop_w},
            do_center_crop=bool(prep.get("do_center_crop", True)), image_mean=list(prep["image_mean"]),
            image_std=list(prep["image_std"]), resample=int(prep.get("resample", 3)),
            do_normalize=bool(prep.get("do_normalize", True)))


def read_original_llava(source: str, *, family: str) -> OriginalLlava:
    """Read and check an original-layout checkpoint; anything else is refused naming ``family``."""
    config = read_json(source, "config.json")
    refuse = _refuser(source, family)
    model_type = config.get("model_type")
    if model_type not in TEXT_MODEL_TYPES:
        refuse(f"its config.json has model_type {model_type!r}, not {' or '.join(map(repr, TEXT_MODEL_TYPES))}")
    checks = [
        ("mm_vision_tower", config.get("mm_vision_tower") is not None, "a vision tower path"),
        ("mm_projector_type", config.get("mm_projector_type", "linear") == "mlp2x_gelu", "'mlp2x_gelu'"),
        ("mm_vision_select_feature", config.get("mm_vision_select_feature", "patch") == "patch",
         "'patch' (CLS dropped: a square token grid)"),
        ("mm_patch_merge_type", config.get("mm_patch_merge_type", "flat") == "flat", "'flat'"),
        ("image_aspect_ratio", not str(config.get("image_aspect_ratio", "pad")).startswith("anyres"),
         "'pad' (one 336-pixel view; anyres tiling is another layout)"),
        # <im_start>/<im_end> around the image are extra vocabulary rows and another prompt (llava_arch.py)
        ("mm_use_im_start_end", not config.get("mm_use_im_start_end", False), "false"),
    ]
    for key, ok, expected in checks:
        if not ok:
            refuse(f"config.json {key} is {config.get(key)!r}, expected {expected}")
    vision, preprocessor = _tower_files(source, str(config["mm_vision_tower"]))
    if int(config.get("mm_hidden_size", vision.get("hidden_size", 0))) != int(vision.get("hidden_size", -1)):
        refuse(f"mm_hidden_size {config.get('mm_hidden_size')} differs from the tower's hidden_size "
               f"{vision.get('hidden_size')}")
    return OriginalLlava(source=source, config=config, vision=vision, preprocessor=preprocessor)


# the tower the authors' builder loads when mm_vision_tower is neither a folder nor an ``openai/`` id
# (FreedomIntelligence/HuatuoGPT-Vision, commit c3b5706, llava/model/multimodal_encoder/builder.py l.13-14)
FALLBACK_TOWER = "openai/clip-vit-large-patch14-336"


def _tower_files(source: str, tower: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tower's CLIP vision config and preprocessor config: ``mm_vision_tower`` inside the checkpoint, else
    ``mm_vision_tower`` as a folder or an ``openai/`` Hub id of its own, else (such as HuatuoGPT-Vision's
    ``./vit/...`` in a copy without ``vit/``) :data:`FALLBACK_TOWER`, as the authors' builder does
    (``multimodal_encoder/builder.py`` l.6-14), with a one-line warning."""
    place = tower_source(source, tower)
    prefix = "" if place != source else f"{tower.removeprefix('./').rstrip('/')}/"
    vision = read_json(place, f"{prefix}config.json")
    vision = vision.get("vision_config", vision) if vision.get("model_type") == "clip" else vision
    return vision, read_json(place, f"{prefix}preprocessor_config.json")


def tower_source(source: str, tower: str) -> str:
    """Where the tower's files are read: ``source`` itself when ``mm_vision_tower`` is a relative folder inside
    the checkpoint (HuatuoGPT-Vision's ``./vit/...``), else ``mm_vision_tower`` (an absolute folder or a Hub id,
    LLaVA-Med's ``openai/clip-vit-large-patch14-336``), else :data:`FALLBACK_TOWER` with a warning."""
    inside = tower.removeprefix("./").rstrip("/")
    if not Path(tower).is_absolute():
        try:
            read_json(source, f"{inside}/config.json")
            return source
        except SourceNotFoundError:
            pass
    if not Path(tower).is_dir() and not tower.startswith("openai"):  # builder.py l.11
        warnings.warn(f"{source}: the vision tower {tower} is not in the checkpoint; using {FALLBACK_TOWER} "
                      "for its config and preprocessing, as the authors' builder does (HuatuoGPT-Vision's tower "
                      "weights still come from the checkpoint's shards)", UserWarning, stacklevel=3)
        return FALLBACK_TOWER
    return tower


def load_original_llava(layout: OriginalLlava, *, image_token_id: int, dtype: Any, attn_implementation: str,
                        family: str, tower_weights: bool = False) -> Any:
    """The weights of ``layout`` in a :class:`transformers.LlavaForConditionalGeneration` (every weight mapped).

    ``image_token_id`` is a row of the embedding matrix, or the first id past it: then the input embedding gets
    ONE extra row for the placeholder (the output head is unchanged). That row is never read: the model
    overwrites the placeholder's embeddings with the image features before the first layer, so the sequence the
    decoder sees is the one the original code splices in at the ``-200`` sentinel (``llava_arch.py``
    ``prepare_inputs_labels_for_multimodal``), at the same positions, and the logits keep the published vocabulary.

    ``tower_weights``: the tower's weights come from the tower's own files (``mm_vision_tower``), not from the
    copy in the shards: LLaVA-Med's loader builds the tower with ``delay_load=True``, so the shards' tower
    weights match no module and are dropped, then ``load_model()`` reads ``CLIPVisionModel.from_pretrained(
    mm_vision_tower)`` (microsoft/LLaVA-Med d406e3f ``llava/model/llava_arch.py`` l.34-36,
    ``multimodal_encoder/clip_encoder.py`` l.17-24, ``model/builder.py`` l.70-72)."""
    import torch
    import transformers

    config = layout.llava_config(image_token_id=image_token_id)
    vocab = int(config.text_config.vocab_size)
    if not 0 <= image_token_id <= vocab:
        _refuser(layout.source, family)(f"the image placeholder id {image_token_id} is neither a row of the "
                                        f"embedding matrix ({vocab} rows) nor the next one")
    model, info = transformers.LlavaForConditionalGeneration.from_pretrained(
        layout.source, config=config, key_mapping=KEY_MAPPING, dtype=dtype, attn_implementation=attn_implementation,
        output_loading_info=True)
    problems = [f"{kind}: {', '.join(sorted(info[kind])[:3])}" for kind in ("missing_keys", "unexpected_keys",
                                                                            "mismatched_keys") if info.get(kind)]
    if problems:
        _refuser(layout.source, family)("its weights do not match the original LLaVA names (" + "; ".join(problems)
                                        + ")")
    if image_token_id == vocab:
        embed = model.get_input_embeddings()
        extended = torch.nn.Embedding(vocab + 1, embed.embedding_dim, dtype=embed.weight.dtype,
                                      device=embed.weight.device)
        with torch.no_grad():
            extended.weight[:vocab] = embed.weight
            extended.weight[vocab:] = 0
        model.set_input_embeddings(extended)
    if tower_weights:
        _load_tower_weights(model, layout, dtype=dtype, family=family)
    return model


def _load_tower_weights(model: Any, layout: OriginalLlava, *, dtype: Any, family: str) -> None:
    """Replace the tower's weights by those of ``mm_vision_tower``'s own checkpoint (a CLIP checkpoint: its text
    half is not needed and goes unreported; a missing vision weight is refused)."""
    import transformers
    from transformers.utils import logging as hf_logging

    place = tower_source(layout.source, str(layout.config["mm_vision_tower"]))
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the CLIP text weights the vision model does not use
    try:
        tower, info = transformers.CLIPVisionModel.from_pretrained(place, dtype=dtype, output_loading_info=True)
    except OSError as error:
        raise SourceNotFoundError(f"cannot read the vision tower's weights ({error})", path=place,
                                  fix="pass a folder or Hub id holding the CLIP checkpoint mm_vision_tower names"
                                  ) from error
    finally:
        hf_logging.set_verbosity(verbosity)
    if info.get("missing_keys") or info.get("mismatched_keys"):
        _refuser(layout.source, family)(f"the vision tower {place} lacks weights of its config (" + ", ".join(
            sorted(map(str, [*info.get("missing_keys", ()), *info.get("mismatched_keys", ())]))[:3]) + ")")
    model.model.vision_tower.load_state_dict(tower.state_dict())


def _refuser(source: str, family: str):  # noqa: ANN202 - raises
    def refuse(reason: str) -> None:
        raise SchemaError(f"not a {family} checkpoint in the original LLaVA code layout: {reason}", path=source,
                          fix=f"the {family} adapter loads the authors' original checkpoint folder (model type "
                              f"{', '.join(TEXT_MODEL_TYPES)}); load transformers-format checkpoints by their own "
                              "model type (llava, qwen2_5_vl, ...)")

    return refuse
