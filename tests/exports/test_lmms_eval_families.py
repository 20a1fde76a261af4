"""Each family's tiny checkpoint (``vgmed eval tiny FAMILY``) in the lmms-eval 0.7.3 model class that loads that
family, inside lmms-eval's own evaluator (``simple_evaluate``, one process for every family): one document of an
exported task, ``--limit 1``, on the CPU.

Where lmms-eval's class needs a processor whose video half needs torchvision (its Qwen-VL and InternVL classes:
transformers 5 loads a torchvision video processor for them), this environment cannot run it (no torchvision
imports beside the CPU torch 2.13.0: docs/evaluation.md). There the check is that loading gets exactly that far,
every file the loader reads (config, weights, tokenizer, image processor, chat template, the
``video_preprocessor_config.json`` the processor asks for) found, and fails only on the torchvision import; where
the environment has torchvision, the class must answer like the others. Families lmms-eval has no loader for are
listed in :data:`NO_LOADER`, so a new family must be placed in one table or the other.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.exports.data import write_dataset
from tests.exports.lmms_env import lmms_python, run_in_lmms
from vgmed_data.cli import main
from vgmed_data.eval.tiny import TINY_FAMILIES, build_tiny_checkpoint

MODELS = "lmms_eval/models"
# family (or published checkpoint) -> (lmms-eval model name, force the simple class, the class's file in 0.7.3,
# the video processor its processor needs torchvision for, or None)
LOADERS: dict[str, tuple[str, bool, str, str | None]] = {
    "llava": ("llava_hf", False, f"{MODELS}/chat/llava_hf.py", None),
    "llava_next": ("llava_hf", False, f"{MODELS}/chat/llava_hf.py", None),
    "gemma3": ("gemma3", False, f"{MODELS}/simple/gemma3.py", None),
    "qwen2_vl": ("qwen2_vl", False, f"{MODELS}/simple/qwen2_vl.py", "Qwen2VLVideoProcessor"),
    "medvlm_r1": ("qwen2_vl", False, f"{MODELS}/simple/qwen2_vl.py", "Qwen2VLVideoProcessor"),
    "qwen2_5_vl": ("qwen2_5_vl", False, f"{MODELS}/chat/qwen2_5_vl.py", "Qwen2VLVideoProcessor"),
    "qwen3_vl": ("qwen3_vl", False, f"{MODELS}/chat/qwen3_vl.py", "Qwen3VLVideoProcessor"),
    "internvl": ("internvl_hf", False, f"{MODELS}/chat/internvl_hf.py", "InternVLVideoProcessor"),
}
# published layouts lmms-eval's loader for their architecture cannot run, and why (checked below)
BROKEN_THERE = {
    # llava_hf, simple class (the files carry no chat template for the chat class): its processor_config.json has
    # no patch_size, as transformers before 4.45 wrote it, and transformers 5's LlavaProcessor then divides by None
    "huatuogpt_vision_7b_hf": (("llava_hf", True, f"{MODELS}/simple/llava_hf.py", None),
                               "unsupported operand type(s) for //: 'int' and 'NoneType'"),
}
# no lmms-eval 0.7.3 class loads these layouts (the original LLaVA-code checkpoints: their llava / llava_onevision
# classes import the LLaVA-NeXT package's own model code, which is not a dependency and reads other layouts)
NO_LOADER = {"huatuogpt_vision": "llava_qwen2 (original HuatuoGPT-Vision-7B)",
             "huatuogpt_vision_34b": "llava_llama (original HuatuoGPT-Vision-34B)",
             "llava_med": "llava_mistral (original LLaVA-Med v1.5)"}

DRIVER = r'''
import importlib.util, json, os, sys
os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", CUDA_VISIBLE_DEVICES="")
from lmms_eval.evaluator import simple_evaluate
from lmms_eval.tasks import TaskManager

include, task, cases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
manager = TaskManager(include_path=include, include_defaults=False)
found = {"torchvision": importlib.util.find_spec("torchvision") is not None}
for name, (model, simple, path) in cases.items():
    try:
        out = simple_evaluate(model=model, model_args=f"pretrained={path},device_map=cpu", tasks=[task], limit=1,
                              batch_size=1, device="cpu", task_manager=manager, log_samples=True, bootstrap_iters=0,
                              force_simple=simple)
        sample = out["samples"][task][0]
        found[name] = {"reply": sample["filtered_resps"], "doc_id": sample["doc_id"], "accuracy": sample["accuracy"]}
    except Exception as error:  # reported per family
        found[name] = {"error": f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"}
print(json.dumps(found))
'''


def test_every_family_is_placed() -> None:
    assert set(TINY_FAMILIES) == set(LOADERS) | set(BROKEN_THERE) | set(NO_LOADER)
    assert not set(LOADERS) & set(NO_LOADER)


@pytest.mark.slow
def test_tiny_checkpoints_load_and_answer_in_lmms_eval_classes(tmp_path: Path) -> None:
    python = lmms_python()
    site = Path(run_in_lmms(python, "import lmms_eval, os; print(os.path.dirname(os.path.dirname(lmms_eval.__file__)))",
                            cwd=tmp_path).stdout.strip())
    folder = write_dataset(tmp_path / "ds")
    assert main(["export", "lmms-eval", str(folder), "--out", str(tmp_path / "tasks"), "--name", "tiny"]) == 0
    loaders = {**LOADERS, **{name: loader for name, (loader, _) in BROKEN_THERE.items()}}
    cases = {name: (model, simple, str(build_tiny_checkpoint(name, tmp_path / "tiny" / name)))
             for name, (model, simple, _, _) in loaders.items()}
    for _, _, source, _ in loaders.values():
        assert (site / source).is_file(), source  # the class named is lmms-eval's own file
    result = run_in_lmms(python, DRIVER, str(tmp_path / "tasks"), "tiny", json.dumps(cases), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    for name, (_, _, _, video) in LOADERS.items():
        if video is None or found["torchvision"]:
            assert "error" not in found[name], (name, found[name])
            assert found[name]["doc_id"] == 0 and isinstance(found[name]["reply"], (str, list)), name
            assert found[name]["accuracy"] in (0.0, 1.0), name  # scored by the exported task's process_results
        else:  # every file found; only the video processor's torchvision import is missing
            assert found[name]["error"].startswith(f"ImportError: {video} requires the Torchvision library"), \
                (name, found[name])
    for name, (_, reason) in BROKEN_THERE.items():
        assert reason in found[name].get("error", ""), (name, found[name])
