"""Running an evaluation as a Hugging Face Job with a GPU, publishing its results when it ends.

The job runs one shell command in a CUDA PyTorch image: install vgmed-data with the ``eval`` extra (the
image's torch satisfies the extra's range, so nothing else is pulled), ``vgmed eval run`` on the GPU, then
``vgmed eval publish`` to the results dataset. The write token travels as the job secret ``HF_TOKEN`` only:
never in the command, the environment, the results or a log line.

:func:`job_command` is what runs (printed by ``scripts/hub_job.py`` in its default dry run);
:func:`submit_job` sends it with :meth:`huggingface_hub.HfApi.run_job` (``scripts/hub_job.py --submit``).
"""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from vgmed_data.errors import InvalidInputError
from vgmed_data.userfiles import INDEX_LIMIT, read_text_bounded

if TYPE_CHECKING:
    from huggingface_hub import JobInfo

    from vgmed_data.eval.config import EvalConfig

DEFAULT_IMAGE = "pytorch/pytorch:2.6.0-cuda12.4-cudnn9-runtime"
DEFAULT_FLAVOR = "a10g-small"
DEFAULT_TOOLKIT = "vgmed-data[eval] @ git+https://github.com/vgmed/vgmed-data"  # a placeholder: submit refuses it
RUN_DIR = "/tmp/vgmed-run"
HEADS_FILE = "/tmp/vgmed-heads.json"  # a local heads.json travels inside the command and is written here


@dataclass(frozen=True, kw_only=True)
class HubJobSpec:
    """What to evaluate, where to publish, and on which hardware."""

    model: str
    dataset: str
    results_repo: str
    config: str = "vgmed"
    split: str = "test"
    method: str = "baseline"
    limit: int | None = None
    dtype: str = "bfloat16"
    batch_size: int = 1
    extra_args: tuple[str, ...] = ()
    image: str = DEFAULT_IMAGE
    flavor: str = DEFAULT_FLAVOR
    timeout: str = "6h"
    toolkit: str = DEFAULT_TOOLKIT  # the pip requirement that installs the toolkit inside the job
    heads: str | None = None  # VGRefine heads: a preset (``preset:NAME``) or a heads.json path, see heads_for_job

    def __post_init__(self) -> None:
        from vgmed_data.hub import check_repo_id

        check_repo_id(self.results_repo)
        if self.heads:
            object.__setattr__(self, "heads", heads_for_job(self.heads))
        job_config(self)  # `vgmed eval run` inside the job would refuse it only after the GPU is paid for


class _RefusingParser(argparse.ArgumentParser):
    """An argument parser whose errors are the project's one-line input errors instead of an exit."""

    def error(self, message: str) -> NoReturn:
        raise InvalidInputError(f"the job's `vgmed eval run` arguments: {message}",
                                fix="correct the arguments (`vgmed eval run --help` lists them)")


def job_config(spec: HubJobSpec) -> EvalConfig:
    """The :class:`EvalConfig` the job's ``vgmed eval run`` will build: its arguments parsed by that command's
    own parser and configuration builder (``eval.cli.config_from_args``), so whatever that command would refuse
    is refused here, before anything is submitted. The heads file is written inside the job: its options are
    read from the text the spec carries."""
    from vgmed_data.eval.cli import config_from_args, register
    from vgmed_data.eval.vgrefine.cli import load_heads
    from vgmed_data.eval.vgrefine.options import VGRefineOptions

    parser = _RefusingParser(prog="vgmed eval")
    register(parser)
    args = parser.parse_args(eval_arguments(spec)[2:])
    vgrefine = None
    if spec.heads:
        vgrefine = (load_heads(spec.heads) if spec.heads.startswith("preset:")
                    else VGRefineOptions.from_dict(json.loads(spec.heads)))
    return config_from_args(args, vgrefine=vgrefine)


def heads_for_job(heads: str) -> str:
    """Check ``--heads`` with the loader `vgmed eval run` uses, before anything is submitted, and return what the
    job needs: ``preset:NAME``, or the heads.json text (the local file does not exist inside the job)."""
    from vgmed_data.eval.vgrefine.cli import PRESET_PREFIX, load_heads, preset_name

    if heads.lstrip().startswith("{"):  # already the file's text (a spec rebuilt with dataclasses.replace)
        from vgmed_data.eval.vgrefine.options import VGRefineOptions

        try:
            VGRefineOptions.from_dict(json.loads(heads))
        except (json.JSONDecodeError, TypeError, KeyError) as error:
            raise InvalidInputError(f"the heads text is not a heads.json ({error})",
                                    fix="pass the file `vgmed eval select --out heads.json` wrote") from None
        return heads
    load_heads(heads)
    name = preset_name(heads)
    return PRESET_PREFIX + name if name is not None else read_text_bounded(heads, limit=INDEX_LIMIT, what="heads file")


def eval_arguments(spec: HubJobSpec) -> list[str]:
    args = ["vgmed", "eval", "run", "--model", spec.model, "--dataset", spec.dataset, "--config", spec.config,
            "--split", spec.split, "--out", RUN_DIR, "--device", "cuda", "--dtype", spec.dtype,
            "--batch-size", str(spec.batch_size), "--no-progress"]
    if spec.method != "baseline":
        args += ["--method", spec.method]
    if spec.limit is not None:
        args += ["--limit", str(spec.limit)]
    if spec.heads:
        args += ["--heads", spec.heads if spec.heads.startswith("preset:") else HEADS_FILE]
    return args + list(spec.extra_args)


def job_command(spec: HubJobSpec) -> list[str]:
    """The job's command: install, evaluate, publish (``bash -c`` so the steps stop at the first failure)."""
    evaluate = shlex.join(eval_arguments(spec))
    publish = shlex.join(["vgmed", "eval", "publish", RUN_DIR, "--repo", spec.results_repo,
                          "--command", evaluate])
    heads = ([f"printf '%s' {shlex.quote(spec.heads)} > {HEADS_FILE}"]
             if spec.heads and not spec.heads.startswith("preset:") else [])
    script = " && ".join(["set -euo pipefail", f"pip install --quiet {shlex.quote(spec.toolkit)}", *heads, evaluate,
                          publish])
    return ["bash", "-c", script]


def submit_job(spec: HubJobSpec, *, token: str | None = None, endpoint: str | None = None,
               namespace: str | None = None, labels: dict[str, str] | None = None) -> "JobInfo":
    """Start the job on the Hub; returns its :class:`huggingface_hub.JobInfo` (``.id``, ``.url``, ``.status``)."""
    from huggingface_hub import HfApi, constants

    from vgmed_data.hub import resolve_token

    if spec.toolkit == DEFAULT_TOOLKIT:  # the job would fail at its first step, after the hardware is booked
        raise InvalidInputError("--toolkit is still the placeholder requirement, which installs nothing",
                                fix="pass --toolkit with a pip requirement that installs your copy of vgmed-data with "
                                    "its eval extra (a Git URL with a commit, or a wheel URL)")
    secret = resolve_token(token)
    api = HfApi(endpoint=(endpoint or constants.ENDPOINT).rstrip("/"), token=secret)
    return api.run_job(image=spec.image, command=job_command(spec), flavor=spec.flavor, timeout=spec.timeout,
                       secrets={"HF_TOKEN": secret}, env={"HF_HUB_ENABLE_HF_TRANSFER": "0"},
                       labels={"app": "vgmed-eval", **(labels or {})}, namespace=namespace)


def describe(spec: HubJobSpec) -> Sequence[str]:
    """Human-readable lines for a dry run."""
    return [f"image:   {spec.image}", f"flavor:  {spec.flavor} (timeout {spec.timeout})",
            "secrets: HF_TOKEN (your write token, sent as a job secret)",
            f"command: {shlex.join(job_command(spec))}"]
