"""Where a ``--model`` or ``--dataset`` argument points: a path on this machine, or a Hub id (``org/name``).

A value that exists on disk is local. One that does not is a Hub id only when it has the Hub's ``org/name``
form; anything else (``/data/vgmed``, ``./vgmed``, ``vgmed``) is a mistyped local path and is refused at once
instead of being sent to the Hub (where it would be retried, then fail with a connection error). Hub failures
are mapped by exception type to one typed error that names the id, the endpoint and the fix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from vgmed_data.errors import RemoteError, SourceNotFoundError, VgmedError

HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")


def local_or_hub(value: str | os.PathLike[str], *, what: str) -> Path | str:
    """``Path`` when ``value`` exists here, the Hub id when it has the ``org/name`` form, else a typed error."""
    path = Path(value).expanduser()
    if path.exists():
        return path
    text = str(value)
    if HUB_ID.fullmatch(text):
        return text
    raise SourceNotFoundError(f"the {what} does not exist (and {text!r} is not a Hub id)", path=text,
                              fix="check the path; a Hub id has the form org/name")


def hub_error(error: BaseException, *, repo_id: str, repo_type: str) -> VgmedError:
    """The typed error for a failed Hub lookup of ``repo_id`` (``model`` or ``dataset``), chosen by type."""
    from huggingface_hub import constants
    from huggingface_hub.errors import GatedRepoError, OfflineModeIsEnabled, RepositoryNotFoundError

    where = f"{constants.ENDPOINT} ({repo_type})"
    detail = " ".join(str(error).split())[:200]
    if isinstance(error, GatedRepoError):
        return RemoteError(f"the Hub {repo_type} {repo_id} is gated ({detail})", path=repo_id,
                           fix="accept its terms on the Hub and pass a token (HF_TOKEN or `hf auth login`)")
    if isinstance(error, RepositoryNotFoundError) or _datasets_not_found(error) or _status(error) == 404:
        return SourceNotFoundError(f"no local folder of that name, and no {repo_type} {repo_id} on {where}",
                                   path=repo_id, fix="check the path or the Hub id (org/name); a private "
                                                     "repository needs a token (HF_TOKEN)")
    if isinstance(error, OfflineModeIsEnabled):
        return RemoteError(f"{repo_id} is not a local folder and HF_HUB_OFFLINE is set ({detail})", path=repo_id,
                           fix=f"download it while online (`{download_command(repo_id, repo_type=repo_type)}`) "
                               "and pass the folder")
    return RemoteError(f"{repo_id} is not a local folder and the Hub could not be reached at {where} "
                       f"({type(error).__name__}: {detail})", path=repo_id,
                       fix="check the connection (with a cached copy, set HF_HUB_OFFLINE=1), or pass a local folder")


def download_command(repo_id: str, *, repo_type: str) -> str:
    """The command that copies a Hub repository into a local folder (huggingface_hub's ``hf`` CLI; the older
    ``huggingface-cli download`` is deprecated)."""
    kind = "" if repo_type == "model" else f" --repo-type {repo_type}"
    return f"hf download {repo_id}{kind} --local-dir DIR"


def _status(error: BaseException) -> int | None:
    """The HTTP status of a Hub HTTP error (None for other errors)."""
    from huggingface_hub.errors import HfHubHTTPError

    response = error.response if isinstance(error, HfHubHTTPError) else None
    return None if response is None else int(response.status_code)


def _datasets_not_found(error: BaseException) -> bool:
    try:
        from datasets.exceptions import DatasetNotFoundError
    except ImportError:  # pragma: no cover - datasets is a core dependency
        return False
    return isinstance(error, DatasetNotFoundError)


def check_hub_repo(repo_id: str, *, repo_type: str) -> None:
    """Raise the typed error when ``repo_id`` cannot be found on the Hub (nothing is checked offline: the
    loaders then read the local cache)."""
    import httpx2
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError

    if constants.HF_HUB_OFFLINE:
        return
    try:
        HfApi().repo_info(repo_id, repo_type=repo_type)
    except (HfHubHTTPError, httpx2.HTTPError, OSError) as error:  # httpx2: huggingface_hub 2.x transport
        raise hub_error(error, repo_id=repo_id, repo_type=repo_type) from error
