"""Running an evaluation as a Hugging Face Job with a GPU, publishing its results when it ends.

The job runs one shell command in a CUDA PyTorch image: install vgmed-data with the ``eval`` extra (the
image's torch satisfies the extra's range, so nothing else is pulled), ``vgmed eval run`` on the GPU, then
``vgmed eval publish`` to the results dataset. The write token travels as the job secret ``HF_TOKEN`` only:
never in the command, the environment, the results or a log line.

:func:`job_command` is what runs (printed by ``scripts/hub_job.py`` in its default dry run);
:func:`submit_job` sends it with :meth:`huggingface_hub.HfApi.run_job` (``scripts/hub_job.py --submit``).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vgmed_data.errors import InvalidInputError

if TYPE_CHECKING:
    from huggingface_hub import JobInfo

DEFAULT_IMAGE = "pytorch/pytorch:2.6.0-cuda12.4-cudnn9-runtime"
DEFAULT_FLAVOR = "a10g-small"
DEFAULT_TOOLKIT = "vgmed-data[eval] @ git+https://github.com/vgmed/vgmed-data"
RUN_DIR = "/tmp/vgmed-run"


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

    def __post_init__(self) -> None:
        from vgmed_data.hub import check_repo_id

        check_repo_id(self.results_repo)
        if self.batch_size < 1:
            raise InvalidInputError(f"batch size must be >= 1, got {self.batch_size}")


def eval_arguments(spec: HubJobSpec) -> list[str]:
    args = ["vgmed", "eval", "run", "--model", spec.model, "--dataset", spec.dataset, "--config", spec.config,
            "--split", spec.split, "--out", RUN_DIR, "--device", "cuda", "--dtype", spec.dtype,
            "--batch-size", str(spec.batch_size), "--no-progress"]
    if spec.method != "baseline":
        args += ["--method", spec.method]
    if spec.limit is not None:
        args += ["--limit", str(spec.limit)]
    return args + list(spec.extra_args)


def job_command(spec: HubJobSpec) -> list[str]:
    """The job's command: install, evaluate, publish (``bash -c`` so the steps stop at the first failure)."""
    evaluate = shlex.join(eval_arguments(spec))
    publish = shlex.join(["vgmed", "eval", "publish", RUN_DIR, "--repo", spec.results_repo,
                          "--command", evaluate])
    script = " && ".join(["set -euo pipefail", f"pip install --quiet {shlex.quote(spec.toolkit)}", evaluate, publish])
    return ["bash", "-c", script]


def submit_job(spec: HubJobSpec, *, token: str | None = None, endpoint: str | None = None,
               namespace: str | None = None, labels: dict[str, str] | None = None) -> "JobInfo":
    """Start the job on the Hub; returns its :class:`huggingface_hub.JobInfo` (``.id``, ``.url``, ``.status``)."""
    from huggingface_hub import HfApi, constants

    from vgmed_data.hub import resolve_token

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
