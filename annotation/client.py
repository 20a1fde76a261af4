"""Connecting to Label Studio: where the URL and token come from, and one-line errors naming the URL.

Resolution order for both the URL and the token: the command-line option, then ``LABEL_STUDIO_URL`` /
``LABEL_STUDIO_API_KEY``, then the settings written by ``vgmed annotate serve`` in the workspace. The token is
never printed or logged.

``label_studio_sdk`` is imported inside functions so ``vgmed --help`` never imports it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vgmed_data.errors import InvalidInputError, RemoteError, require

from vgmed_data.annotation.server import load_settings

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio


@dataclass(frozen=True, kw_only=True)
class Connection:
    url: str
    token: str
    document_root: Path | None = None  # the server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, when known

    def __repr__(self) -> str:  # never show the token
        return f"Connection(url={self.url!r}, document_root={self.document_root!r})"


def server_dir(workspace: Path) -> Path:
    """Where ``vgmed annotate serve`` keeps the embedded server's data (SQLite, media, settings)."""
    return Path(workspace) / "server"


def resolve_connection(*, workspace: Path, url: str | None = None, token: str | None = None,
                       document_root: Path | None = None) -> Connection:
    settings = load_settings(server_dir(workspace))
    url = url or os.environ.get("LABEL_STUDIO_URL") or (settings.url if settings else None)
    if not url:
        raise InvalidInputError("no Label Studio server given", path=workspace,
                                fix="run 'vgmed annotate serve' first, or pass --url URL --token TOKEN")
    url = url.rstrip("/")
    embedded = settings is not None and settings.url == url
    token = token or os.environ.get("LABEL_STUDIO_API_KEY") or (settings.token if embedded and settings else None)
    if not token:
        raise InvalidInputError(f"no API token for {url}",
                                fix="pass --token (Account & Settings > Access token) or set LABEL_STUDIO_API_KEY")
    root = document_root or (settings.document_root if embedded and settings else None)
    env_root = os.environ.get("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT")
    if root is None and env_root:
        root = Path(env_root)
    return Connection(url=url, token=token, document_root=root)


def sdk_client(connection: Connection, *, timeout: float = 120.0) -> "LabelStudio":
    sdk = require("label_studio_sdk", extra="annotation", purpose="talking to Label Studio")
    return sdk.LabelStudio(base_url=connection.url, api_key=connection.token, timeout=timeout)


def check_connection(client: "LabelStudio", *, url: str) -> None:
    """One authenticated request, so a wrong token or an unreachable URL fails here with a one-line error."""
    with remote_call(url=url, action="connect"):
        client.users.whoami()


def describe_failure(error: BaseException, *, url: str, action: str) -> RemoteError:
    """A one-line :class:`RemoteError` for a failed call: naming the URL, the action and the fix."""
    status = getattr(error, "status_code", None)
    body = getattr(error, "body", None)
    detail = ""
    if isinstance(body, dict):
        detail = str(body.get("detail") or body.get("validation_errors") or body)[:200]
    elif body:
        detail = str(body)[:200]
    if status in (401, 403):
        return RemoteError(f"{action}: the token was refused (HTTP {status}) by {url}", path=url,
                           fix="pass the token of a user of this server (--token or LABEL_STUDIO_API_KEY); "
                               "legacy tokens need LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true")
    if status is not None:
        return RemoteError(f"{action}: HTTP {status} from {url}" + (f" ({detail})" if detail else ""), path=url)
    reason = type(error).__name__
    return RemoteError(f"{action}: cannot reach Label Studio at {url} ({reason})", path=url,
                       fix="start it with 'vgmed annotate serve' or check --url")


@contextlib.contextmanager
def remote_call(*, url: str, action: str) -> Iterator[None]:
    """Turn SDK/HTTP/connection failures inside the block into one :class:`RemoteError`."""
    import httpx

    sdk_errors: tuple[type[BaseException], ...] = ()
    try:
        from label_studio_sdk.core.api_error import ApiError

        sdk_errors = (ApiError,)
    except ImportError:  # pragma: no cover - the extra is missing; require() reports it elsewhere
        pass
    try:
        yield
    except (httpx.HTTPError, ConnectionError, *sdk_errors) as error:
        if isinstance(error, RemoteError):
            raise
        raise describe_failure(error, url=url, action=action) from error


def as_dict(item: Any) -> dict[str, Any]:
    """SDK models (pydantic) or plain dicts as plain dicts."""
    if isinstance(item, dict):
        return item
    dump = getattr(item, "model_dump", None) or getattr(item, "dict")
    return dict(dump())
