"""HuatuoGPT-Vision from its ORIGINAL checkpoint layout: loading, exactness against an independent assembly,
detection, refusal of other layouts, the published VGRefine preset, ``vgmed eval select`` and box mapping.

The checkpoint is the tiny random one ``vgmed eval tiny huatuogpt_vision`` writes (original config keys and
weight names). Capture == eager ``output_attentions``, fast == naive VGRefine on the test configurations and the
prompt snapshot run for this family through the shared parametrised tests (tests/eval, tests/vgrefine).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from tests.huatuo import reference
from vgmed_data.errors import SchemaError, SourceNotFoundError
from vgmed_data.eval.adapters import adapter_for_config, load_adapter, question_prompt
from vgmed_data.eval.adapters.huatuogpt_vision import HuatuoGPTVisionAdapter
from vgmed_data.eval.tiny import build_tiny_checkpoint

QUESTION = question_prompt("Which organ is in the box?")


@pytest.mark.parametrize("shape", [(84, 112), (90, 37)], ids=["landscape", "portrait"])
def test_logits_equal_an_independent_assembly_of_the_original_model(huatuo, huatuo_dir: Path, shape) -> None:  # noqa: ANN001
    from transformers import AutoTokenizer

    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (*shape, 3), dtype=np.uint8))
    encoded = huatuo.encode([image], [QUESTION])
    tokenizer = AutoTokenizer.from_pretrained(huatuo_dir)
    ids = reference.input_ids(tokenizer, QUESTION)
    at = ids.index(reference.IMAGE_TOKEN_INDEX)
    ours = encoded.inputs["input_ids"][0].tolist()
    side = 56 // 14
    assert ours[:at] == ids[:at] and ours[at + side * side:] == ids[at + 1:]  # same tokens around the image
    assert ours[at:at + side * side] == [huatuo.image_token_id] * (side * side)
    torch.testing.assert_close(encoded.inputs["pixel_values"], reference.pixels(huatuo_dir, image), rtol=0,
                               atol=1e-6)
    with torch.inference_mode():
        logits = huatuo.model(**encoded.inputs).logits[0]
    expected = reference.logits(huatuo_dir, image, QUESTION, tokenizer)
    assert logits.shape == expected.shape
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)


def test_checkpoint_is_in_the_original_layout_and_detected(huatuo, huatuo_dir: Path) -> None:  # noqa: ANN001
    config = json.loads((huatuo_dir / "config.json").read_text())
    assert config["model_type"] == "llava_qwen2" and config["architectures"] == ["LlavaQwen2ForCausalLM"]
    assert config["mm_projector_type"] == "mlp2x_gelu" and config["mm_vision_tower"].startswith("./vit/")
    index = json.loads((huatuo_dir / "model.safetensors.index.json").read_text())["weight_map"]
    assert sorted(set(index.values())) == [f"model-0000{i}-of-00004.safetensors" for i in range(1, 5)]
    assert config["torch_dtype"] == "bfloat16" and not (huatuo_dir / "model.safetensors").exists()
    assert load_file(str(huatuo_dir / index["lm_head.weight"]))["lm_head.weight"].dtype == torch.bfloat16
    names = set(reference.load_weights(huatuo_dir))
    assert {"model.mm_projector.0.weight", "model.mm_projector.2.bias", "lm_head.weight",
            "model.vision_tower.vision_tower.vision_model.embeddings.class_embedding",
            "model.layers.0.self_attn.q_proj.bias", "model.embed_tokens.weight"} <= names
    assert not any("language_model" in n or "multi_modal_projector" in n for n in names)
    assert adapter_for_config(SimpleNamespace(model_type="llava_qwen2")) is HuatuoGPTVisionAdapter
    assert isinstance(huatuo, HuatuoGPTVisionAdapter) and huatuo.family == "huatuogpt_vision"
    # Qwen2's tokenizer form: a byte-level BPE with merges, the slow files beside tokenizer.json, no bos
    model = json.loads((huatuo_dir / "tokenizer.json").read_text())["model"]
    assert model["type"] == "BPE" and len(model["merges"]) > 100
    assert len((huatuo_dir / "merges.txt").read_text().splitlines()) > 100 and (huatuo_dir / "vocab.json").is_file()
    settings = json.loads((huatuo_dir / "tokenizer_config.json").read_text())
    assert settings["tokenizer_class"] == "Qwen2Tokenizer" and settings["bos_token"] is None
    assert set(json.loads((huatuo_dir / "added_tokens.json").read_text())) == {"<|endoftext|>", "<|im_start|>",
                                                                              "<|im_end|>"}
    words = " Answer the question"
    assert huatuo.tokenizer.tokenize(words) == ["ĠAnswer", "Ġthe", "Ġquestion"]  # merged, not one token per byte


def test_cli_writes_the_tiny_original_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vgmed_data.cli import main

    assert main(["eval", "tiny", "huatuogpt_vision", "--out", str(tmp_path / "t")]) == 0
    assert "RANDOM-WEIGHT huatuogpt_vision" in capsys.readouterr().out
    config = json.loads((tmp_path / "t" / "config.json").read_text())
    assert config["model_type"] == "llava_qwen2"
    assert (tmp_path / "t" / "vit" / "clip_vit_tiny_patch14_56" / "preprocessor_config.json").exists()


def test_prompt_is_the_authors_template(huatuo) -> None:  # noqa: ANN001
    assert huatuo.chat_text("What is this?  ") == "<|user|>\n<image>\nWhat is this?\n<|assistant|>\n"
    assert huatuo.chat_text("Is <s>it</s> <image>here?") == "<|user|>\n<image>\nIs it here?\n<|assistant|>\n"


def test_layout_pads_to_square_then_resizes(huatuo, wide_image: Image.Image) -> None:  # noqa: ANN001
    layout = huatuo.encode([wide_image], [QUESTION]).layouts[0]
    assert layout.grid == (4, 4) and layout.span[1] - layout.span[0] == 16
    assert layout.transform.dst_size == (56, 56)
    # 112 x 84 -> 112 x 112 with 14 px above and below -> x 0.5
    np.testing.assert_allclose(layout.transform.apply_boxes([[0, 0, 112, 84]])[0], [0, 7, 56, 49])


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_refuses_a_transformers_llava_checkpoint(tmp_path: Path) -> None:
    other = build_tiny_checkpoint("llava", tmp_path / "llava")
    with pytest.raises(SchemaError, match="not a huatuogpt_vision checkpoint") as info:
        HuatuoGPTVisionAdapter.load_checkpoint(str(other), dtype=torch.float32, attn_implementation="sdpa")
    assert "'llava'" in str(info.value) and "llava_qwen2" in str(info.value)


@pytest.mark.parametrize(("key", "value"), [("mm_projector_type", "mlp3x_gelu"), ("image_aspect_ratio", "anyres"),
                                            ("mm_patch_merge_type", "spatial_unpad"),
                                            ("mm_vision_select_feature", "cls_patch"), ("mm_use_im_start_end", True)])
def test_refuses_another_llava_code_layout(huatuo_dir: Path, tmp_path: Path, key: str, value: object) -> None:
    folder = _copy(huatuo_dir, tmp_path / "other")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, key: value}))
    with pytest.raises(SchemaError, match=f"not a huatuogpt_vision checkpoint.*{key}"):
        load_adapter(folder)


def test_vision_tower_outside_the_checkpoint(huatuo_dir: Path, tmp_path: Path, wide_image: Image.Image) -> None:
    """``mm_vision_tower`` naming a folder of its own (builder.py's fallback) loads the same model."""
    folder = _copy(huatuo_dir, tmp_path / "split")
    tower = shutil.move(str(folder / "vit"), str(tmp_path / "tower")) + "/clip_vit_tiny_patch14_56"
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "mm_vision_tower": tower}))
    split, whole = load_adapter(folder), load_adapter(huatuo_dir)
    inputs = split.encode([wide_image], [QUESTION]).inputs
    with torch.inference_mode():
        torch.testing.assert_close(split.model(**inputs).logits, whole.model(**inputs).logits, rtol=0, atol=0)


def test_refuses_weights_under_other_names(huatuo_dir: Path, tmp_path: Path) -> None:
    folder = _copy(huatuo_dir, tmp_path / "renamed")
    index_path = folder / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    shard = index["weight_map"].pop("model.mm_projector.2.bias")
    weights = load_file(str(folder / shard))
    weights["model.projector.2.bias"] = weights.pop("model.mm_projector.2.bias")
    save_file(weights, str(folder / shard), metadata={"format": "pt"})
    index["weight_map"]["model.projector.2.bias"] = shard
    index_path.write_text(json.dumps(index))
    with pytest.raises(SchemaError, match="not a huatuogpt_vision checkpoint.*weights") as info:
        load_adapter(folder)
    assert "multi_modal_projector.linear_2.bias" in str(info.value)


def _scaled_preset(layers: int, heads: int):  # noqa: ANN202
    """The published 20-head preset with every index scaled from 28 x 28 to ``layers`` x ``heads``."""
    from vgmed_data.eval.vgrefine import VGRefineOptions
    from vgmed_data.eval.vgrefine.presets import HUATUOGPT_VISION_7B as P

    scaled = list(dict.fromkeys((layer * layers // 28, head * heads // 28) for layer, head in P.heads))
    return VGRefineOptions(heads=scaled, masked_layers=[m * layers // 28 for m in P.masked_layers])


def test_published_preset_scaled_fast_equals_naive(huatuo, wide_image: Image.Image) -> None:  # noqa: ANN001
    from vgmed_data.eval.vgrefine import vgrefine_fast, vgrefine_naive

    options = _scaled_preset(huatuo.num_layers, huatuo.num_heads)
    assert options.masked_layers == (1,) and len(options.heads) >= 8
    naive = vgrefine_naive(huatuo, wide_image, QUESTION, options=options, max_new_tokens=4, with_plain=True)
    fast = vgrefine_fast(huatuo, wide_image, QUESTION, options=options, max_new_tokens=4, with_plain=True)
    assert naive.triage.blocked.size > 0
    np.testing.assert_array_equal(fast.triage.blocked, naive.triage.blocked)
    np.testing.assert_array_equal(fast.blocked_positions, naive.blocked_positions)
    torch.testing.assert_close(fast.answer.first_logits, naive.answer.first_logits, rtol=0, atol=1e-4)
    assert fast.answer.tokens == naive.answer.tokens and fast.plain.tokens == naive.plain.tokens
    assert (naive.answer.first_logits - naive.plain.first_logits).abs().max() > 1e-3  # the knockout acts


def test_vgmed_eval_select_runs(huatuo_dir: Path, tmp_path: Path) -> None:
    from tests.eval.data import write_tiny_dataset
    from vgmed_data.cli import main

    dataset = write_tiny_dataset(tmp_path / "data", 3)
    out = tmp_path / "heads.json"
    code = main(["eval", "select", "--model", str(huatuo_dir), "--dataset", str(dataset), "--out", str(out),
                 "--k", "4", "--split", "test", "--no-progress"])
    assert code == 0
    chosen = json.loads(out.read_text())
    assert len(chosen["heads"]) == 4 and chosen["samples"] == 3
    assert all(0 <= layer < 3 and 0 <= head < 4 for layer, head in chosen["heads"])


def test_box_mapping_official_ignores_padding_default_follows_it(huatuo, wide_image: Image.Image) -> None:  # noqa: ANN001
    """Official (measure_attention.convert_bbox_after_resize): scale 112 x 84 -> 56 x 56, ignoring the padding.
    Through the real transform: y + 14 px of padding, then x 0.5. Cells are 14 px; expected sets by hand."""
    from vgmed_data.eval.metrics import boxes_to_token_mask, boxes_to_token_mask_padding_aware
    from vgmed_data.eval.protocol import BoxMapping, Protocol, protocol_settings

    layout = huatuo.encode([wide_image], [QUESTION]).layouts[0]
    box = [[10, 20, 50, 60]]
    official = boxes_to_token_mask(box, image_size=wide_image.size, grid=layout.grid)
    padded = boxes_to_token_mask_padding_aware(box, transform=layout.transform, grid=layout.grid)
    expected_official = np.zeros((4, 4), bool)
    expected_official[0:3, 0:2] = True  # y 20..60 * 2/3 = 13.3..40 -> rows 0-2; x 10..50 * 0.5 = 5..25 -> cols 0-1
    expected_padded = np.zeros((4, 4), bool)
    expected_padded[1:3, 0:2] = True  # y (20..60 + 14) * 0.5 = 17..37 -> rows 1-2
    np.testing.assert_array_equal(official, expected_official)
    np.testing.assert_array_equal(padded, expected_padded)
    assert protocol_settings(Protocol.OFFICIAL, huatuo.family).box_mapping is BoxMapping.INPUT_SCALE


def test_documented_padding_example() -> None:
    """The worked example of docs/evaluation.md (512 x 384 image, 336 input, 24 x 24 grid, a 60 px box near the
    bottom, a map that attends exactly to the box's true cells): numbers recomputed independently of the
    project's metric code, then checked against it."""
    from vgmed_data.eval.metrics import (
        attention_ratio,
        boxes_to_token_mask,
        boxes_to_token_mask_padding_aware,
        kl_divergence,
    )
    from vgmed_data.geometry import Transform

    box, size = [[200, 300, 260, 360]], (512, 384)
    transform = Transform.identity(size).pad_to_square().resize(336, 336)
    true = boxes_to_token_mask_padding_aware(box, transform=transform, grid=(24, 24)).reshape(-1)
    official = boxes_to_token_mask(box, image_size=size, grid=(24, 24)).reshape(-1)
    # by hand: x 200..260 * 0.65625 = 131.25..170.6 -> cols 9-12; y (300..360 + 64) * 0.65625 = 238.9..278.3
    # -> rows 17-19 (true); y 300..360 * 0.875 = 262.5..315 -> rows 18-22 (official)
    grid = np.zeros((24, 24), bool)
    grid[17:20, 9:13] = True
    np.testing.assert_array_equal(true, grid.reshape(-1))
    grid[:] = False
    grid[18:23, 9:13] = True
    np.testing.assert_array_equal(official, grid.reshape(-1))
    assert int(true.sum()) == 12 and int(official.sum()) == 20 and int((true & official).sum()) == 8

    attention = np.where(true, 1.0, 0.01)
    mean = attention.sum() / attention.size

    def ar(gt: np.ndarray) -> float:
        return float(attention[gt].sum() / (mean * gt.sum() + 1e-8))

    def kl(gt: np.ndarray) -> float:
        att = np.clip(attention / (attention.sum() + 1e-8), 1e-12, 1)
        target = np.clip(np.where(gt, 1.0 / gt.sum(), 0.0), 1e-12, 1)
        return float(np.sum(target * np.log(target / att)))

    for gt in (true, official):
        assert attention_ratio(attention, gt) == pytest.approx(ar(gt), rel=1e-9)
        assert kl_divergence(attention, gt) == pytest.approx(kl(gt), rel=1e-9)
    assert round(ar(true), 2) == 32.65 and round(ar(official), 2) == 13.26
    assert round(kl(true), 2) == 0.39 and round(kl(official), 2) == 2.64


def test_qwen25vl_release_goes_to_the_qwen2_5_vl_adapter(tmp_path: Path) -> None:
    """HuatuoGPT-Vision-7B-Qwen2.5VL is a transformers Qwen2.5-VL checkpoint (model_type qwen2_5_vl,
    Qwen2_5_VLForConditionalGeneration); a checkpoint with that config is detected as qwen2_5_vl."""
    folder = build_tiny_checkpoint("qwen2_5_vl", tmp_path / "huatuo-qwen25vl")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "qwen2_5_vl"
    assert config["architectures"] == ["Qwen2_5_VLForConditionalGeneration"]
    adapter = load_adapter(folder)
    assert adapter.family == "qwen2_5_vl"


@pytest.mark.parametrize(("size", "jaccard", "identical", "disjoint"), [
    ((512, 384), 0.554, 0.033, 0.0), ((1024, 576), 0.233, 0.024, 0.4785), ((512, 512), 1.0, 1.0, 0.0)])
def test_documented_agreement_of_the_two_mappings(size: tuple[int, int], jaccard: float, identical: float,
                                                  disjoint: float) -> None:
    """docs/evaluation.md: 2000 random 60 x 60 px boxes (seed 0) per image size, official vs true token sets."""
    from vgmed_data.eval.metrics import boxes_to_token_mask, boxes_to_token_mask_padding_aware
    from vgmed_data.geometry import Transform

    rng = np.random.default_rng(0)
    transform = Transform.identity(size).pad_to_square().resize(336, 336)
    scores, same, apart = [], 0, 0
    for _ in range(2000):
        x, y = rng.uniform(0, size[0] - 60), rng.uniform(0, size[1] - 60)
        box = [[x, y, x + 60, y + 60]]
        official = boxes_to_token_mask(box, image_size=size, grid=(24, 24))
        true = boxes_to_token_mask_padding_aware(box, transform=transform, grid=(24, 24))
        scores.append((official & true).sum() / (official | true).sum())
        same += bool((official == true).all())
        apart += not (official & true).any()
    assert round(float(np.mean(scores)), 3) == jaccard
    assert same / 2000 == pytest.approx(identical) and apart / 2000 == pytest.approx(disjoint)


def test_missing_vit_folder_falls_back_to_the_openai_tower(huatuo_dir: Path, tmp_path: Path, wide_image: Image.Image,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``vit/`` the authors' builder loads openai/clip-vit-large-patch14-336 (builder.py l.13-14): here too,
    with a one-line warning, the tower's files read from the Hub cache (offline), the weights from the shards."""
    import huggingface_hub.constants as hub

    from vgmed_data.eval.adapters.llava_original import FALLBACK_TOWER

    folder = _copy(huatuo_dir, tmp_path / "no-vit")
    cache = tmp_path / "hub-cache"
    repo = cache / f"models--{FALLBACK_TOWER.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    shutil.move(str(folder / "vit" / "clip_vit_tiny_patch14_56"), str(repo / "snapshots" / ("0" * 40)))
    shutil.rmtree(folder / "vit")
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    with pytest.warns(UserWarning, match=f"not in the checkpoint; using {FALLBACK_TOWER}"):
        fallback = load_adapter(folder)
    inputs = fallback.encode([wide_image], [QUESTION]).inputs
    with torch.inference_mode():
        torch.testing.assert_close(fallback.model(**inputs).logits, load_adapter(huatuo_dir).model(**inputs).logits,
                                   rtol=0, atol=0)
    shutil.rmtree(repo)  # nothing anywhere: one typed error naming the fallback, not a repo-id complaint
    with pytest.warns(UserWarning), pytest.raises(SourceNotFoundError, match=FALLBACK_TOWER):
        load_adapter(folder)
