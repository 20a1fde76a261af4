"""LLaVA-Med v1.5 from its ORIGINAL checkpoint layout (``llava_mistral``): exactness against an independent
assembly, the published layout and detection, the authors' prompt and tokens.

The checkpoint is the tiny random one ``vgmed eval tiny llava_med`` writes. Capture == eager
``output_attentions``, fast == naive VGRefine and the prompt snapshot run on it through the shared parametrised
tests (it is in TINY_FAMILIES). The reference tokens come from the sentencepiece library itself, following
microsoft/LLaVA-Med d406e3f ``mm_utils.py`` ``tokenizer_image_token`` (each chunk around ``<image>`` with BOS and
the dummy prefix, one BOS kept, ``-200`` between) and ``conversation.py`` ``mistral_instruct``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file

from tests.huatuo import reference
from vgmed_data.eval.adapters import adapter_for_config, load_adapter, question_prompt
from vgmed_data.eval.adapters.llava_med import LlavaMedAdapter
from vgmed_data.eval.adapters.llava_original import read_original_llava
from vgmed_data.eval.tiny import build_tiny_checkpoint
from vgmed_data.eval.tiny_original import LLAVA_MED_TOWER

sentencepiece = pytest.importorskip("sentencepiece")

QUESTION = question_prompt("Which organ is in the box?")
# the keys of the published config.json (read from the vendored copy the adapter's docs cite)
PUBLISHED_KEYS = {
    "_name_or_path", "architectures", "attention_dropout", "bos_token_id", "eos_token_id", "feature_outs",
    "freeze_mm_mlp_adapter", "hidden_act", "hidden_size", "image_aspect_ratio", "img_size", "initializer_range",
    "intermediate_size", "max_position_embeddings", "mm_hidden_size", "mm_projector_lr", "mm_projector_type",
    "mm_use_im_patch_token", "mm_use_im_start_end", "mm_vision_select_feature", "mm_vision_select_layer",
    "mm_vision_tower", "model_type", "num_attention_heads", "num_hidden_layers", "num_key_value_heads",
    "proj_vis_to_txt_tokens", "prompt_segtok_w_instruct", "rms_norm_eps", "rope_theta", "segtok_posembed",
    "sliding_window", "tie_word_embeddings", "tokenizer_model_max_length", "tokenizer_padding_side", "torch_dtype",
    "transformers_version", "tune_mm_mlp_adapter", "tune_vision_tokenizer", "use_cache", "use_mm_proj",
    "vision_backbone", "vision_tokenizer_lr", "vocab_size"}


@pytest.fixture(scope="module")
def med_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_checkpoint("llava_med", tmp_path_factory.mktemp("llava_med") / "tiny")


@pytest.fixture(scope="module")
def med(med_dir: Path) -> LlavaMedAdapter:
    adapter = load_adapter(med_dir)
    assert isinstance(adapter, LlavaMedAdapter)
    return adapter


def authors_ids(folder: Path, question: str) -> list[int]:
    """model_vqa.py l.48-60 with conv_mistral_instruct, tokenized by SentencePiece as tokenizer_image_token does."""
    sp = sentencepiece.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    message = "<image>\n" + question.replace("<image>", "").strip()
    prompt = f"[INST] {message} [/INST]"  # LLAMA_2 style, empty system, one user turn, generation slot
    before, after = prompt.split("<image>")
    return [sp.bos_id(), *sp.encode(before), reference.IMAGE_TOKEN_INDEX, *sp.encode(after)]


def authors_logits(folder: Path, image: Image.Image, question: str) -> torch.Tensor:
    """The original model in plain torch: the tower's weights from ``mm_vision_tower``'s own checkpoint (the
    loader drops the shards' copy), the projector and the Mistral decoder from the shards."""
    config = json.loads((folder / "config.json").read_text())
    tower = Path(config["mm_vision_tower"])
    vision = json.loads((tower / "config.json").read_text())["vision_config"]
    tower_weights = {k: v.float() for k, v in load_file(str(tower / "model.safetensors")).items()}
    feats = reference.vision_features(tower_weights, vision, reference.pixels(folder, image),
                                      config["mm_vision_select_layer"], prefix="vision_model")
    w = reference.load_weights(folder)
    hidden = F.linear(feats, w["model.mm_projector.0.weight"], w["model.mm_projector.0.bias"])
    feats = F.linear(F.gelu(hidden), w["model.mm_projector.2.weight"], w["model.mm_projector.2.bias"])[0]
    return reference.decoder_logits(w, config, reference.splice(w, authors_ids(folder, question), feats))


@pytest.mark.parametrize("shape", [(84, 112), (90, 37)], ids=["landscape", "portrait"])
def test_logits_equal_an_independent_assembly_of_the_original_model(med: LlavaMedAdapter, med_dir: Path,
                                                                    shape: tuple[int, int]) -> None:
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (*shape, 3), dtype=np.uint8))
    ids = authors_ids(med_dir, QUESTION)
    reference.assert_matches_authors(med, med_dir, image, QUESTION, ids=ids,
                                     expected=authors_logits(med_dir, image, QUESTION))


def test_the_shards_tower_copy_is_not_the_one_used(med: LlavaMedAdapter, med_dir: Path) -> None:
    """The tiny shards hold another tower than mm_vision_tower's: the logits test above tells them apart."""
    name = "embeddings.patch_embedding.weight"
    shard = reference.load_weights(med_dir)[f"model.vision_tower.vision_tower.vision_model.{name}"]
    own = load_file(str(med_dir / LLAVA_MED_TOWER / "model.safetensors"))[f"vision_model.{name}"]
    used = dict(med.model.model.vision_tower.named_parameters())[name]
    assert not torch.equal(shard, own)
    torch.testing.assert_close(used, own, rtol=0, atol=0)


def test_checkpoint_is_in_the_published_layout_and_detected(med_dir: Path) -> None:
    config = json.loads((med_dir / "config.json").read_text())
    assert set(config) == PUBLISHED_KEYS
    assert config["model_type"] == "llava_mistral" and config["architectures"] == ["LlavaMistralForCausalLM"]
    assert config["mm_use_im_patch_token"] is False and config["torch_dtype"] == "bfloat16"
    index = json.loads((med_dir / "model.safetensors.index.json").read_text())["weight_map"]
    assert sorted(set(index.values())) == [f"model-0000{i}-of-00004.safetensors" for i in range(1, 5)]
    assert {"model.mm_projector.0.weight", "lm_head.weight", "model.embed_tokens.weight",
            "model.vision_tower.vision_tower.vision_model.embeddings.class_embedding"} <= set(index)
    assert not any(name.endswith("_proj.bias") for name in index if name.startswith("model.layers."))  # Mistral
    assert (med_dir / "tokenizer.model").is_file() and not (med_dir / "tokenizer.json").exists()
    sp = sentencepiece.SentencePieceProcessor(model_file=str(med_dir / "tokenizer.model"))
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id()) == (0, 1, 2) and sp.vocab_size() == config["vocab_size"]
    assert adapter_for_config(SimpleNamespace(model_type="llava_mistral")) is LlavaMedAdapter


def test_prompt_is_the_authors_template(med: LlavaMedAdapter) -> None:
    assert med.chat_text("  Is it <image>the liver?  ") == "<s>[INST] <image>\nIs it the liver? [/INST]"


@pytest.mark.parametrize("legacy", [None, False], ids=["absent", "false"])
def test_tokens_do_not_depend_on_the_files_legacy_flag(med_dir: Path, tmp_path: Path, legacy: bool | None) -> None:
    """Whatever tokenizer_config.json says, the text after <image> keeps SentencePiece's ``▁`` prefix, as the
    original's per-chunk tokenization gives (a newer transformers default would drop it)."""
    folder = tmp_path / "copy"
    shutil.copytree(med_dir, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    settings.pop("legacy")
    (folder / "tokenizer_config.json").write_text(json.dumps(settings if legacy is None else
                                                             {**settings, "legacy": legacy}))
    processor = LlavaMedAdapter.processor_for(read_original_llava(str(folder), family="llava_med"))
    text = "<s>[INST] <image>\nWhat is  shown? [/INST]"
    ids = processor.tokenizer(text, add_special_tokens=False).input_ids
    image_id = processor.tokenizer.convert_tokens_to_ids("<image>")
    expected = authors_ids(folder, "What is  shown?")
    assert ids == [image_id if i == reference.IMAGE_TOKEN_INDEX else i for i in expected]


def test_without_sentencepiece_loading_says_what_to_install(med_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from vgmed_data.errors import MissingDependencyError

    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "sentencepiece" else found(name, *args))
    with pytest.raises(MissingDependencyError, match="tokenizer.model needs sentencepiece") as info:
        load_adapter(med_dir)
    assert info.value.fix == "pip install sentencepiece" and "\n" not in str(info.value)
