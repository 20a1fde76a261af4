"""Publishing to the Hugging Face Hub: ``vgmed publish FOLDER --repo ORG/NAME``.

Two layers:

* :func:`publish_files` is generic (any dataset repository, e.g. evaluation results): create the repository if
  needed, optionally gate it *before* anything is uploaded, upload every file (LFS for binaries) and commit them
  in **one** commit whose parent is the head read at the start (a concurrent commit makes ours fail with 412
  instead of silently interleaving; callers that append can re-read and retry), optionally delete remote files
  under given folders that are not in the new set, then tag the commit. On a dropped connection the client
  retries each upload; if it still fails, nothing is committed and the error says whether the branch head is
  unchanged. Re-running uploads only the objects the server does not have yet (LFS batch skips them).
* :func:`publish_dataset` is the dataset release: validate the folder (:func:`vgmed_data.validate.validate_folder`),
  run the licence and PHI guards (:mod:`vgmed_data.guards`), strip images for ``annotations_only``
  (:mod:`vgmed_data.pointers`), generate the card (:mod:`vgmed_data.card`), check its size and ask the Hub to
  validate it, then :func:`publish_files` with ``data/`` replaced and the version tag.

Tokens come from ``token=`` / ``--token`` or the standard Hugging Face places (``HF_TOKEN``, the token file via
:func:`huggingface_hub.get_token`); they are passed to the client only, never written, logged, or put in a card or
an error message. The endpoint is ``endpoint=`` / ``--endpoint`` or ``HF_ENDPOINT``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from vgmed_data.errors import (InvalidInputError, PublishRefusedError, RemoteError, SchemaError, SourceNotFoundError,
                               VgmedError)

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from vgmed_data.card import GateTerms

# The Hub answers 413 from /api/validate-yaml for very large cards (seen with multi-megabyte metadata) and refuses
# non-LFS files above 10 MB. We refuse cards above 1 MB before any upload: a card that size is a generator bug.
MAX_CARD_BYTES = 1_000_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_REPO_NAME = 96
MAX_LISTED = 5
COMMIT_ATTEMPTS = 2  # the commit POST is not retried by the client; ours is safe to retry (parent_commit pinned)


class UploadInterruptedError(RemoteError):
    """The connection was lost during an upload or commit; ``head_unchanged`` says nothing was committed."""

    def __init__(self, message: str, *, head_unchanged: bool, fix: str | None = None) -> None:
        self.head_unchanged = head_unchanged
        super().__init__(message, fix=fix)


def check_repo_id(repo_id: str) -> str:
    """``ORG/NAME`` with the Hub's rules: letters, digits, ``-``, ``_``, ``.``; no ``--`` or ``..``; at most 96
    characters per part; not ending in ``.`` or ``-``."""
    parts = repo_id.split("/")
    problems = []
    if len(parts) != 2:
        problems.append("it must be ORG/NAME (exactly one '/')")
    else:
        for part in parts:
            if not _NAME.fullmatch(part) or "--" in part or ".." in part or part.endswith((".", "-")):
                problems.append(f"{part!r} may use letters, digits, '-', '_' and '.', must start with a letter or "
                                "digit, not end with '.' or '-', and not contain '--' or '..'")
            if len(part) > MAX_REPO_NAME:
                problems.append(f"{part!r} is longer than {MAX_REPO_NAME} characters")
    if problems:
        raise InvalidInputError(f"invalid repository name {repo_id!r}: {'; '.join(problems)}",
                                fix="use --repo ORG/NAME, e.g. --repo my-lab/VGMED")
    return repo_id


def resolve_token(token: str | None) -> str:
    from huggingface_hub import get_token

    found = token or get_token()
    if not found:
        raise PublishRefusedError("no Hugging Face token found",
                                  fix="pass --token, set HF_TOKEN, or run `hf auth login` (a write token)")
    return found


def _endpoint(endpoint: str | None) -> str:
    from huggingface_hub import constants

    return (endpoint or constants.ENDPOINT).rstrip("/")


def _head(api: "HfApi", repo_id: str, *, repo_type: str, branch: str) -> str | None:
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        return api.repo_info(repo_id, repo_type=repo_type, revision=branch).sha
    except (RepositoryNotFoundError, RevisionNotFoundError):
        return None


@contextlib.contextmanager
def _hub_errors(api: "HfApi", repo_id: str, *, repo_type: str, branch: str, head: str | None,
                action: str) -> Iterator[None]:
    """Turn client errors into our errors; after a failed commit, say whether the branch is unchanged."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    try:
        yield
    except VgmedError:
        raise
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else 0
        server = (error.server_message or str(error)).splitlines()[0][:300]
        if status == 401:
            raise PublishRefusedError(f"the Hub refused the token while trying to {action} {repo_id} (401: "
                                      f"{server})", fix="pass a valid write token with --token or HF_TOKEN") from None
        if status == 403:
            raise PublishRefusedError(f"the token may not {action} {repo_id} (403: {server})",
                                      fix="use a token with write access to this namespace") from None
        if status == 412:
            raise RemoteError(f"{repo_id}: another commit landed on {branch} while publishing (412); nothing of "
                              "this publish was committed", fix="run the command again") from None
        raise RemoteError(f"the Hub refused to {action} {repo_id} ({status}: {server})") from None
    except (httpx2.HTTPError, RuntimeError, OSError) as error:
        unchanged = False
        try:
            now = _head(api, repo_id, repo_type=repo_type, branch=branch)
            unchanged = now == head
            state = ("nothing was committed (the branch head is unchanged)" if unchanged
                     else f"the branch head moved to {now}: check the repository")
        except Exception:  # noqa: BLE001 - the server is unreachable; say so rather than guess
            state = "the repository state could not be checked"
        raise UploadInterruptedError(f"lost the connection to the Hub while trying to {action} {repo_id} "
                                     f"({type(error).__name__}); {state}", head_unchanged=unchanged,
                                     fix="run the command again: objects already uploaded are not sent twice"
                                     ) from None


@dataclass(frozen=True)
class CommitResult:
    repo_id: str
    repo_type: str
    endpoint: str
    commit_oid: str
    tag: str | None

    @property
    def url(self) -> str:
        prefix = "" if self.repo_type == "model" else f"{self.repo_type}s/"
        return f"{self.endpoint}/{prefix}{self.repo_id}"


def publish_files(
    *,
    repo_id: str,
    files: Mapping[str, str | os.PathLike[str] | bytes],
    token: str | None = None,
    endpoint: str | None = None,
    repo_type: str = "dataset",
    private: bool = False,
    message: str,
    replace_under: Sequence[str] = (),
    tag: str | None = None,
    gated: Literal["auto", "manual"] | None = None,
    branch: str = "main",
    parent_commit: str | None = None,
) -> CommitResult:
    """Upload ``files`` (path in repo -> local path or bytes) in one commit on ``branch`` and tag it.

    ``replace_under``: remote files under these folders that are not in ``files`` are deleted in the same
    commit. ``parent_commit``: commit only if the branch head is this oid (default: the head read at the start).
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    check_repo_id(repo_id)
    url = _endpoint(endpoint)
    api = HfApi(endpoint=url, token=resolve_token(token))
    with _hub_errors(api, repo_id, repo_type=repo_type, branch=branch, head=None, action="authenticate for"):
        api.whoami()
        head = _head(api, repo_id, repo_type=repo_type, branch=branch)
        if tag is not None and head is not None:
            refs = api.list_repo_refs(repo_id, repo_type=repo_type)
            if any(ref.name == tag for ref in refs.tags):
                raise InvalidInputError(f"{repo_id} already has a revision tagged {tag!r}",
                                        fix="choose a new --revision; published versions are never moved")
    with _hub_errors(api, repo_id, repo_type=repo_type, branch=branch, head=None, action="create"):
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        if gated is not None:
            api.update_repo_settings(repo_id, repo_type=repo_type, gated=gated)
        head = _head(api, repo_id, repo_type=repo_type, branch=branch)
        remote = api.list_repo_files(repo_id, repo_type=repo_type, revision=head) if head else []
    operations: list[CommitOperationAdd | CommitOperationDelete] = [
        CommitOperationAdd(path_in_repo=path, path_or_fileobj=data if isinstance(data, bytes) else str(data))
        for path, data in sorted(files.items())
    ]
    prefixes = tuple(p.rstrip("/") + "/" for p in replace_under)
    operations += [CommitOperationDelete(path_in_repo=path) for path in remote
                   if path.startswith(prefixes) and path not in files]
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            with _hub_errors(api, repo_id, repo_type=repo_type, branch=branch, head=head, action="upload to"):
                info = api.create_commit(repo_id, operations, repo_type=repo_type, revision=branch,
                                         commit_message=message, parent_commit=parent_commit or head)
            break
        except UploadInterruptedError as error:
            if attempt == COMMIT_ATTEMPTS or not error.head_unchanged:
                raise
    oid = info.oid
    if tag is not None:
        with _hub_errors(api, repo_id, repo_type=repo_type, branch=branch, head=oid, action="tag"):
            api.create_tag(repo_id, tag=tag, revision=oid, repo_type=repo_type, tag_message=message)
    return CommitResult(repo_id=repo_id, repo_type=repo_type, endpoint=url, commit_oid=oid, tag=tag)


def validate_card(text: str, *, endpoint: str | None = None, token: str | None = None) -> None:
    """Size check here, then the Hub's own ``/api/validate-yaml``."""
    from huggingface_hub import get_session
    from huggingface_hub.utils import build_hf_headers

    size = len(text.encode())
    if size > MAX_CARD_BYTES:
        raise InvalidInputError(f"the dataset card would be {size} bytes, above the {MAX_CARD_BYTES} bytes the Hub "
                                "accepts for README metadata", path="README.md",
                                fix="shorten manifest.json (descriptions, citations) or the number of configurations")
    response = get_session().post(f"{_endpoint(endpoint)}/api/validate-yaml",
                                  json={"repoType": "dataset", "content": text},
                                  headers=build_hf_headers(token=token))
    if response.status_code == 413:
        raise InvalidInputError("the Hub refused the dataset card as too large (413)", path="README.md",
                                fix="shorten manifest.json (descriptions, citations)")
    if response.status_code == 400:
        raise InvalidInputError(f"the Hub refused the card metadata: {response.text[:300]}", path="README.md")
    if response.status_code == 401:
        raise PublishRefusedError("the Hub refused the token (401)", fix="pass a valid write token with --token")
    if response.status_code >= 400:
        raise RemoteError(f"validate-yaml answered {response.status_code}", path=_endpoint(endpoint))


@dataclass(frozen=True)
class PublishResult:
    commit: CommitResult
    configs: tuple[str, ...]
    gated: bool
    annotations_only: bool

    @property
    def url(self) -> str:
        return self.commit.url

    def load_lines(self) -> list[str]:
        revision = f", revision=\"{self.commit.tag}\"" if self.commit.tag else ""
        token = ", token=True" if self.gated else ""
        return [f"load_dataset(\"{self.commit.repo_id}\", \"{config}\"{revision}{token})" for config in self.configs]


def _folder_problems(folder: Path) -> None:
    from vgmed_data.validate import validate_folder

    problems = validate_folder(folder)
    if problems:
        listed = " | ".join(str(p) for p in problems[:MAX_LISTED])
        more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
        raise SchemaError(f"the folder fails validation with {len(problems)} problem(s): {listed}{more}",
                          path=folder, fix=f"run `vgmed validate {folder}` and fix the build")


def publish_dataset(
    folder: str | os.PathLike[str],
    *,
    repo_id: str,
    token: str | None = None,
    endpoint: str | None = None,
    private: bool = False,
    revision: str | None = None,
    annotations_only: bool = False,
    gate: "GateTerms | None" = None,
) -> PublishResult:
    """Validate, guard, build the card and publish ``folder`` as one commit, tagged ``revision``.

    The release is gated (``gate`` terms, default :class:`~vgmed_data.card.GateTerms`) whenever it holds rows
    whose images may not be redistributed; such rows go out only with ``annotations_only``.
    """
    from vgmed_data.card import CardOptions, GateTerms, render_card
    from vgmed_data.folder import folder_configs
    from vgmed_data.guards import check_licences, check_phi
    from vgmed_data.pointers import strip_images

    check_repo_id(repo_id)
    root = Path(folder)
    if not root.is_dir():
        raise SourceNotFoundError("dataset folder not found", path=root, fix="build it first (vgmed build ...)")
    if not folder_configs(root):
        raise SchemaError("no configurations (data/<config>/*.parquet) in the folder", path=root)
    _folder_problems(root)
    report = check_licences(root, annotations_only=annotations_only)
    check_phi(root, images_published=not annotations_only)
    terms = (gate or GateTerms()) if report.needs_gate else None
    with tempfile.TemporaryDirectory(prefix="vgmed-publish-") as staging:
        publish_root = strip_images(root, Path(staging) / "folder") if annotations_only else root
        options = CardOptions(repo_id=repo_id, revision=revision, annotations_only=annotations_only, gate=terms)
        card = render_card(publish_root, options=options, report=report)
        resolved = resolve_token(token)
        validate_card(card, endpoint=endpoint, token=resolved)
        configs = folder_configs(publish_root)
        files: dict[str, str | os.PathLike[str] | bytes] = {"README.md": card.encode()}
        for splits in configs.values():
            for shards in splits.values():
                files.update({relative: publish_root / relative for relative in shards})
        commit = publish_files(repo_id=repo_id, files=files, token=resolved, endpoint=endpoint, private=private,
                               message=f"Publish {revision or 'dataset'} with vgmed-data"
                                       + (" (annotations only)" if annotations_only else ""),
                               replace_under=("data/",), tag=revision,
                               gated="manual" if terms is not None else None)
    return PublishResult(commit=commit, configs=tuple(configs), gated=terms is not None,
                         annotations_only=annotations_only)


def register_publish(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="a dataset folder (data/<config>/*.parquet + README.md)")
    parser.add_argument("--repo", required=True, metavar="ORG/NAME", help="the dataset repository")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--revision", metavar="TAG", help="tag this version (e.g. v1.0); an existing tag is refused")
    parser.add_argument("--annotations-only", action="store_true",
                        help="publish no image or mask bytes: annotations with pointers to the sources, gated "
                             "when a source does not allow redistribution")
    parser.add_argument("--token", help="a write token (default: HF_TOKEN or the saved login); never stored")
    parser.add_argument("--endpoint", help="the Hub URL (default: HF_ENDPOINT or https://huggingface.co)")
    parser.set_defaults(func=run_publish)


def run_publish(args: argparse.Namespace) -> int:
    result = publish_dataset(args.folder, repo_id=args.repo, token=args.token, endpoint=args.endpoint,
                             private=args.private, revision=args.revision, annotations_only=args.annotations_only)
    print(f"published {result.commit.repo_id} at commit {result.commit.commit_oid}"
          + (f", tagged {result.commit.tag}" if result.commit.tag else "")
          + (" (gated: access requests are reviewed)" if result.gated else ""))
    print(result.url)
    print("from datasets import load_dataset")
    for line in result.load_lines():
        print(f"ds = {line}")
    return 0
