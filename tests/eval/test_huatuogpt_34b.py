"""HuatuoGPT-Vision-34B from its ORIGINAL checkpoint layout (``llava_llama`` on Yi-34B): exactness against an
independent assembly, the published layout and detection, the authors' folder-name rule, prompt and tokens.

The checkpoint is the tiny random one ``vgmed eval tiny huatuogpt_vision_34b`` writes (into a folder whose name
holds 'huatuogpt', as the authors' ``cli.py`` l.58 requires). Capture == eager ``output_attentions``, fast ==
naive VGRefine and the prompt snapshot run on it through the shared parametrised tests (it is in TINY_FAMILIES).
The reference tokens follow FreedomIntelligence/HuatuoGPT-Vision a6476ac ``cli.py``: the text chunks around
``<image>`` tokenized one by one without special tokens (l.91-110), here by the ``tokenizers`` library reading the
checkpoint's ``tokenizer.json`` as it is (what transformers 4.40's fast tokenizer does) and by SentencePiece
itself reading ``tokenizer.model``.
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

from tests.huatuo import reference
from vgmed_data.errors import SchemaError
from vgmed_data.eval.adapters import adapter_for_config, load_adapter, question_prompt
from vgmed_data.eval.adapters.huatuogpt_vision import HuatuoGPTVisionAdapter
from vgmed_data.eval.adapters.llava_original import read_original_llava
from vgmed_data.eval.tiny import build_tiny_checkpoint

sentencepiece = pytest.importorskip("sentencepiece")
tokenizers = pytest.importorskip("tokenizers")

QUESTION = question_prompt("Which organ is in the box?")
# every key of the published config.json (FreedomIntelligence/HuatuoGPT-Vision-34B, Hub commit f04c5e3)
PUBLISHED_KEYS = {
    "_flash_attn_2_enabled", "_name_or_path", "architectures", "attention_bias", "attention_dropout", "bos_token_id",
    "eos_token_id", "hidden_act", "hidden_size", "image_aspect_ratio", "initializer_range", "intermediate_size",
    "max_position_embeddings", "mm_hidden_size", "mm_projector_type", "mm_vision_select_feature",
    "mm_vision_select_layer", "mm_vision_tower", "model_type", "num_attention_heads", "num_hidden_layers",
    "num_key_value_heads", "pad_token_id", "pretraining_tp", "rms_norm_eps", "rope_scaling", "rope_theta",
    "tie_word_embeddings", "tokenizer_model_max_length", "tokenizer_padding_side", "torch_dtype",
    "transformers_version", "tune_mm_mlp_adapter", "use_cache", "use_mm_proj", "vocab_size"}


@pytest.fixture(scope="module")
def big_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_checkpoint("huatuogpt_vision_34b", tmp_path_factory.mktemp("yi") / "HuatuoGPT-Vision-34B")


@pytest.fixture(scope="module")
def big(big_dir: Path) -> HuatuoGPTVisionAdapter:
    adapter = load_adapter(big_dir)
    assert isinstance(adapter, HuatuoGPTVisionAdapter)
    return adapter


def authors_ids(folder: Path, question: str, *, library: str = "tokenizers") -> list[int]:
    """cli.py l.135-153 and l.91-110 for one turn with one image: ``-200`` where ``<image>`` stands."""
    turn = f"<|user|>\n{('<image>' + chr(10) + question).strip()}\n<|assistant|>\n"
    if library == "tokenizers":
        backend = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        encode = lambda text: backend.encode(text, add_special_tokens=False).ids  # noqa: E731
    else:
        encode = sentencepiece.SentencePieceProcessor(model_file=str(folder / "tokenizer.model")).encode
    before, after = turn.split("<image>")
    return [*encode(before), reference.IMAGE_TOKEN_INDEX, *encode(after)]


def authors_logits(folder: Path, image: Image.Image, question: str) -> torch.Tensor:
    """The original model in plain torch: the tower (from the shards, as cli.py l.61-75 leaves it), the projector
    and the Llama decoder (no biases, rope_theta from the config) over the spliced sequence."""
    config = json.loads((folder / "config.json").read_text())
    vision = json.loads((folder / config["mm_vision_tower"] / "config.json").read_text())["vision_config"]
    w = reference.load_weights(folder)
    feats = reference.vision_features(w, vision, reference.pixels(folder, image), config["mm_vision_select_layer"])
    hidden = F.linear(feats, w["model.mm_projector.0.weight"], w["model.mm_projector.0.bias"])
    feats = F.linear(F.gelu(hidden), w["model.mm_projector.2.weight"], w["model.mm_projector.2.bias"])[0]
    return reference.decoder_logits(w, config, reference.splice(w, authors_ids(folder, question), feats))


@pytest.mark.parametrize("shape", [(84, 112), (90, 37)], ids=["landscape", "portrait"])
def test_logits_equal_an_independent_assembly_of_the_original_model(big: HuatuoGPTVisionAdapter, big_dir: Path,
                                                                    shape: tuple[int, int]) -> None:
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (*shape, 3), dtype=np.uint8))
    ids = authors_ids(big_dir, QUESTION)
    assert ids == authors_ids(big_dir, QUESTION, library="sentencepiece")  # the two readings of the tokenizer agree
    reference.assert_matches_authors(big, big_dir, image, QUESTION, ids=ids,
                                     expected=authors_logits(big_dir, image, QUESTION))


def test_checkpoint_is_in_the_published_layout_and_detected(big: HuatuoGPTVisionAdapter, big_dir: Path) -> None:
    config = json.loads((big_dir / "config.json").read_text())
    assert set(config) == PUBLISHED_KEYS
    assert config["model_type"] == "llava_llama" and config["architectures"] == ["LlavaLlamaForCausalLM"]
    assert config["mm_vision_tower"] == "./vit/clip_vit_large_patch14_336" and config["rope_theta"] == 5e6
    index = json.loads((big_dir / "model.safetensors.index.json").read_text())["weight_map"]
    assert sorted(set(index.values())) == [f"model-{i:05d}-of-00015.safetensors" for i in range(1, 16)]
    assert {"model.mm_projector.0.weight", "lm_head.weight", "model.embed_tokens.weight",
            "model.vision_tower.vision_tower.vision_model.embeddings.class_embedding"} <= set(index)
    assert not any(name.endswith("_proj.bias") for name in index if name.startswith("model.layers."))  # Llama
    sp = sentencepiece.SentencePieceProcessor(model_file=str(big_dir / "tokenizer.model"))
    assert [sp.id_to_piece(i) for i in range(3)] == ["<unk>", "<|startoftext|>", "<|endoftext|>"]
    assert sp.vocab_size() == config["vocab_size"] == big.image_token_id  # <image>: the one row past Yi's
    settings = json.loads((big_dir / "tokenizer_config.json").read_text())
    assert settings["tokenizer_class"] == "LlamaTokenizer" and settings["add_bos_token"] is False
    assert adapter_for_config(SimpleNamespace(model_type="llava_llama")) is HuatuoGPTVisionAdapter
    assert big.checkpoint is not None and big.checkpoint.name == "huatuogpt_vision_34b"
    assert big.model.generation_config.eos_token_id == 2 == big.model.generation_config.pad_token_id  # cli.py l.67-69


def test_prompt_is_the_authors_template(big: HuatuoGPTVisionAdapter) -> None:
    assert big.chat_text("  Is it <image>the <s>liver?  ") == "<|user|>\n<image>\n  Is it the liver?\n<|assistant|>\n"


@pytest.mark.parametrize("scheme", ["first", "never"])
def test_tokens_follow_the_files_prefix_rule(big_dir: Path, tmp_path: Path, scheme: str) -> None:
    """Whatever prefix rule the checkpoint's tokenizer.json has, our one-pass ids equal the authors' per-chunk ids
    (transformers 5 would otherwise rebuild the pre-tokenizer from its own flags)."""
    folder = tmp_path / "huatuogpt-copy"
    shutil.copytree(big_dir, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    backend = json.loads((folder / "tokenizer.json").read_text())
    backend["pre_tokenizer"]["prepend_scheme"] = scheme
    (folder / "tokenizer.json").write_text(json.dumps(backend))
    processor = HuatuoGPTVisionAdapter.processor_for(read_original_llava(str(folder), family="huatuogpt_vision"))
    text = "<|user|>\n<image>\nWhat is  shown?\n<|assistant|>\n"
    ids = processor.tokenizer(text, add_special_tokens=False).input_ids
    image_id = processor.tokenizer.convert_tokens_to_ids("<image>")
    expected = authors_ids(folder, "What is  shown?")
    assert ids == [image_id if i == reference.IMAGE_TOKEN_INDEX else i for i in expected]
    after_image = processor.tokenizer.convert_ids_to_tokens(ids[ids.index(image_id) + 1])
    assert after_image.startswith("▁") is (scheme != "never")  # the rule really differs between the two


def test_llava_llama_without_the_authors_name_rule_is_refused(big_dir: Path, tmp_path: Path) -> None:
    """The same files in a folder whose path lacks 'huatuogpt' are what LLaVA-1.5's original layout looks like to
    the authors' cli.py (l.77-78 raises): refused in one line naming the conversion to use; any letter case of
    the name loads (cli.py lower-cases the path)."""
    plain = tmp_path / "llava-v1.5-7b"
    shutil.copytree(big_dir, plain)
    with pytest.raises(SchemaError) as info:
        load_adapter(plain)
    message = str(info.value)
    assert "LLaVA-1.5" in message and "llava-hf" in message and "cli.py l.58" in message and "\n" not in message
    upper = tmp_path / "HUATUOGPT-VISION-34B-local"
    plain.rename(upper)
    assert load_adapter(upper).checkpoint.name == "huatuogpt_vision_34b"


@pytest.mark.parametrize(("backend", "prefix"), [
    ({"normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                         {"type": "Replace", "content": "▁"}]},
      "pre_tokenizer": None}, True),  # transformers 4.3x's conversion of a legacy Llama tokenizer
    ({"normalizer": None, "pre_tokenizer": {"type": "Metaspace", "add_prefix_space": False}}, False),  # older form
    ({"normalizer": None, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Metaspace", "prepend_scheme": "first"}]}}, True),
    (None, True),  # no tokenizer.json: the legacy SentencePiece tokenizer's prefix
], ids=["prepend-normaliser", "metaspace-no-prefix", "nested-first", "no-file"])
def test_the_prefix_rule_is_read_from_every_form_of_tokenizer_json(tmp_path: Path, backend: dict | None,
                                                                    prefix: bool) -> None:
    from vgmed_data.eval.adapters.huatuogpt_vision import chunk_prefix

    if backend is not None:
        (tmp_path / "tokenizer.json").write_text(json.dumps(backend))
    assert chunk_prefix(str(tmp_path)) is prefix
