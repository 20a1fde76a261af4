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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from vgmed_data.errors import (InvalidInputError, PublishRefusedError, RemoteError, SchemaError, SourceNotFoundError,
                               VgmedError)
from vgmed_data.progress import add_quiet_argument

if TYPE_CHECKING:
    from huggingface_hub import HfApi

    from vgmed_data.card import GateTerms
    from vgmed_data.facts import Verified
    from vgmed_data.guards import LicenceReport

# The Hub answers 413 from /api/validate-yaml for very large cards (seen with multi-megabyte metadata) and refuses
# non-LFS files above 10 MB. We refuse cards above 1 MB before any upload: a card that size is a generator bug.
MAX_CARD_BYTES = 1_000_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_REPO_NAME = 96
MAX_LISTED = 5
COMMIT_ATTEMPTS = 2  # the commit POST is not retried by the client; ours is safe to retry (parent_commit pinned)
# Above this many bytes of shards, publishing stages them in several resumable commits (see publish_files).
DEFAULT_MAX_COMMIT_BYTES = 1_000_000_000


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
    changed: bool = True  # False: every file was already identical at the head, so nothing was committed

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
    max_commit_bytes: int | None = None,
) -> CommitResult:
    """Upload ``files`` (path in repo -> local path or bytes) in one commit on ``branch`` and tag it.

    ``replace_under``: remote files under these folders that are not in ``files`` are deleted in the same
    commit. ``parent_commit``: commit only if the branch head is this oid (default: the head read at the start).

    ``max_commit_bytes``: when the files given as paths add up to more than this, they are first uploaded
    resumably to a staging branch (:func:`staging_branch`) in several commits of at most this many bytes each
    (a file larger than the limit gets a commit of its own); a re-run skips the files the staging branch already
    holds with the same sha256. Then one final commit on ``branch`` writes every file (the uploaded objects are
    referenced, not sent again), the ``bytes`` entries (the card) and the deletions, and only then the tag is
    set and the staging branch deleted. ``branch`` therefore never shows a partial upload, and nothing partial
    is tagged.
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    check_repo_id(repo_id)
    if max_commit_bytes is not None and max_commit_bytes <= 0:
        raise InvalidInputError(f"max_commit_bytes must be positive, got {max_commit_bytes}",
                                fix="pass --max-commit-bytes with a size in bytes, e.g. 1000000000")
    url = _endpoint(endpoint)
    api = HfApi(endpoint=url, token=resolve_token(token))
    head, remote = _prepare_repo(api, repo_id, repo_type=repo_type, branch=branch, tag=tag, private=private,
                                 gated=gated)
    operations: list[CommitOperationAdd | CommitOperationDelete] = [
        CommitOperationAdd(path_in_repo=path, path_or_fileobj=data if isinstance(data, bytes) else str(data))
        for path, data in sorted(files.items())
    ]
    staging: str | None = None
    if max_commit_bytes is not None:
        large = [op for op in operations if isinstance(op, CommitOperationAdd)
                 and not isinstance(files[op.path_in_repo], bytes)]
        if sum(op.upload_info.size for op in large) > max_commit_bytes:
            staging = staging_branch(tag)
            _upload_to_staging(api, repo_id, large, repo_type=repo_type, staging=staging, start=head,
                               max_commit_bytes=max_commit_bytes, message=message)
            # Fresh operations for the final commit (the client refuses to commit one twice); hashing the files
            # again costs a local read, the objects are not sent again.
            staged_ids = {id(op) for op in large}
            operations = [CommitOperationAdd(path_in_repo=op.path_in_repo, path_or_fileobj=str(files[op.path_in_repo]))
                          if id(op) in staged_ids else op for op in operations]
    prefixes = tuple(p.rstrip("/") + "/" for p in replace_under)
    operations += [CommitOperationDelete(path_in_repo=path) for path in remote
                   if path.startswith(prefixes) and path not in files]
    info = _commit(api, repo_id, operations, repo_type=repo_type, branch=branch, message=message,
                   parent=parent_commit or head)
    oid = info.oid
    changed = _committed(operations)
    if tag is not None:
        with _hub_errors(api, repo_id, repo_type=repo_type, branch=branch, head=oid, action="tag"):
            api.create_tag(repo_id, tag=tag, revision=oid, repo_type=repo_type, tag_message=message)
    if staging is not None:
        with _hub_errors(api, repo_id, repo_type=repo_type, branch=staging, head=None,
                         action=f"delete the staging branch {staging!r} of"):
            api.delete_branch(repo_id, branch=staging, repo_type=repo_type)
    return CommitResult(repo_id=repo_id, repo_type=repo_type, endpoint=url, commit_oid=oid, tag=tag, changed=changed)


def _prepare_repo(api: "HfApi", repo_id: str, *, repo_type: str, branch: str, tag: str | None, private: bool,
                  gated: Literal["auto", "manual"] | None) -> tuple[str | None, list[str]]:
    """Authenticate, refuse a tag that exists, create the repository (and set its gating): the branch head
    (None for a new repository) and the files on it."""
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
    return head, list(remote)


def _committed(operations: Sequence[Any]) -> bool:
    """Whether ``create_commit`` really committed. When every file is already identical at the branch head (for
    instance a concurrent job committed the same files first), huggingface_hub skips the commit and returns the
    head's oid; it marks operations ``_is_committed`` only after a real commit. (Private attribute: if it ever
    disappears, assume committed, the previous behaviour.)"""
    return any(getattr(op, "_is_committed", True) for op in operations)


def ensure_repo(repo_id: str, *, repo_type: str = "dataset", private: bool = False, endpoint: str | None = None,
                token: str | None = None) -> str | None:
    """Create the repository if it does not exist; return the head of ``main`` (its initial commit when new).

    Appenders read the head, decide, then commit with that head as the parent; creating the repository first
    means that head is a real commit, so a concurrent commit is always detected (HTTP 412)."""
    from huggingface_hub import HfApi

    check_repo_id(repo_id)
    api = HfApi(endpoint=_endpoint(endpoint), token=resolve_token(token))
    with _hub_errors(api, repo_id, repo_type=repo_type, branch="main", head=None, action="create"):
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        return _head(api, repo_id, repo_type=repo_type, branch="main")


def staging_branch(tag: str | None) -> str:
    """The branch a resumable upload stages its files on: one per target tag, so a re-run finds it."""
    return f"vgmed-staging-{tag or 'untagged'}"


def _commit(api: "HfApi", repo_id: str, operations: Sequence[Any], *, repo_type: str, branch: str, message: str,
            parent: str | None) -> Any:
    """``create_commit`` pinned to ``parent``, retried once when the connection drops and the head is unchanged."""
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            with _hub_errors(api, repo_id, repo_type=repo_type, branch=branch, head=parent, action="upload to"):
                return api.create_commit(repo_id, list(operations), repo_type=repo_type, revision=branch,
                                         commit_message=message, parent_commit=parent)
        except UploadInterruptedError as error:
            if attempt == COMMIT_ATTEMPTS or not error.head_unchanged:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _upload_to_staging(api: "HfApi", repo_id: str, operations: Sequence[Any], *, repo_type: str, staging: str,
                       start: str | None, max_commit_bytes: int, message: str) -> None:
    """Commit ``operations`` to ``staging`` in batches of at most ``max_commit_bytes``, skipping files the
    branch already holds with the same sha256 (left there by an interrupted run)."""
    with _hub_errors(api, repo_id, repo_type=repo_type, branch=staging, head=None, action="create a staging branch in"):
        api.create_branch(repo_id, branch=staging, revision=start, repo_type=repo_type, exist_ok=True)
        staged = {entry.path: entry.lfs.sha256 if entry.lfs else None
                  for entry in api.list_repo_tree(repo_id, repo_type=repo_type, revision=staging, recursive=True)
                  if hasattr(entry, "lfs")}
    pending = [op for op in operations if staged.get(op.path_in_repo) != op.upload_info.sha256.hex()]
    batches: list[list[Any]] = []
    for op in pending:
        if not batches or sum(o.upload_info.size for o in batches[-1]) + op.upload_info.size > max_commit_bytes:
            batches.append([])
        batches[-1].append(op)
    done = len(operations) - len(pending)
    for number, batch in enumerate(batches, start=1):
        head = _head(api, repo_id, repo_type=repo_type, branch=staging)
        try:
            _commit(api, repo_id, batch, repo_type=repo_type, branch=staging, parent=head,
                    message=f"{message} (staging {number}/{len(batches)}: {len(batch)} file(s))")
        except UploadInterruptedError as error:
            raise UploadInterruptedError(
                f"{error} [resumable upload: {done} of {len(operations)} file(s) are on the staging branch "
                f"{staging!r}; nothing was published or tagged]", head_unchanged=error.head_unchanged,
                fix="run the same command again: files already staged with the same content are skipped") from None
        done += len(batch)


@contextlib.contextmanager
def _reaching(url: str) -> Iterator[None]:
    """A server that cannot be reached at all (refused, no route, DNS, TLS) is a one-line :class:`RemoteError`
    naming the URL; nothing has been uploaded at that point."""
    import httpx2

    try:
        yield
    except (httpx2.HTTPError, OSError) as error:
        detail = " ".join(str(error).split())[:160] or type(error).__name__
        raise RemoteError(f"could not reach the Hub at {url} ({type(error).__name__}: {detail}); nothing was uploaded",
                          fix="check --endpoint / HF_ENDPOINT and the network, then run the command again") from None


def validate_card(text: str, *, endpoint: str | None = None, token: str | None = None) -> None:
    """Size check here, then the Hub's own ``/api/validate-yaml``."""
    from huggingface_hub import get_session
    from huggingface_hub.utils import build_hf_headers

    size = len(text.encode())
    if size > MAX_CARD_BYTES:
        raise InvalidInputError(f"the dataset card would be {size} bytes, above the {MAX_CARD_BYTES} bytes the Hub "
                                "accepts for README metadata", path="README.md",
                                fix="shorten manifest.json (descriptions, citations) or the number of configurations")
    with _reaching(_endpoint(endpoint)):
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


def _folder_problems(folder: Path, *, allow_leaks: bool = False, rows: bool = True) -> None:
    from vgmed_data.validate import validate_folder

    problems = validate_folder(folder, patient_splits=not allow_leaks, rows=rows)
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
    max_commit_bytes: int = DEFAULT_MAX_COMMIT_BYTES,
    allow_leaks: bool = False,
    note: Callable[[str], None] | None = None,
) -> PublishResult:
    """Validate, guard, build the card and publish ``folder`` as one commit, tagged ``revision``.

    Shards adding up to more than ``max_commit_bytes`` are uploaded resumably first, in several commits on a
    staging branch; the commit that writes the card and the shards to ``main`` and the tag still come last
    (:func:`publish_files`).

    The release is gated (``gate`` terms, default :class:`~vgmed_data.card.GateTerms`) whenever it holds rows
    whose images may not be redistributed; such rows go out only with ``annotations_only``.

    The release is audited first (:func:`vgmed_data.audit.audit`): cross-split exact or near duplicates and
    patients in several splits are refused unless ``allow_leaks``; the card's Checks section gives the counts.

    The checks read the folder's facts (:mod:`vgmed_data.facts`) when every shard's size and sha256 are as
    recorded, and read every row otherwise; ``note`` gets the one line saying which (default: printed on
    standard output, where the command prints its result; standard error keeps only an error's one line).
    """
    from vgmed_data.card import CardOptions, GateTerms, render_card
    from vgmed_data.facts import verify
    from vgmed_data.folder import folder_configs
    from vgmed_data.pointers import strip_images

    note = note or _say
    check_repo_id(repo_id)
    root = Path(folder)
    if not root.is_dir():
        raise SourceNotFoundError("dataset folder not found", path=root, fix="build it first (vgmed build ...)")
    if not folder_configs(root):
        raise SchemaError("no configurations (data/<config>/*.parquet) in the folder", path=root)
    verified, line = verify(root)
    note(line)
    report, checks = release_guards(root, verified, name=repo_id, annotations_only=annotations_only,
                                    allow_leaks=allow_leaks)
    terms = (gate or GateTerms()) if report.needs_gate else None
    with tempfile.TemporaryDirectory(prefix="vgmed-publish-") as staging:
        pointers_checked = verified is not None and verified.rows_without_pointers() == 0
        publish_root = (strip_images(root, Path(staging) / "folder", pointers_checked=pointers_checked)
                        if annotations_only else root)
        if annotations_only:  # the stripped copy's facts, recorded as it was written
            verified, _ = verify(publish_root)
        options = CardOptions(repo_id=repo_id, revision=revision, annotations_only=annotations_only, gate=terms,
                              checks=checks)
        card = render_card(publish_root, options=options, report=report,
                           facts=verified.card_facts() if verified else None,
                           sizes=verified.sizes() if verified else None)
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
                               gated="manual" if terms is not None else None, max_commit_bytes=max_commit_bytes)
    return PublishResult(commit=commit, configs=tuple(configs), gated=terms is not None,
                         annotations_only=annotations_only)


def _say(line: str) -> None:
    print(f"vgmed publish: {line}")


def release_guards(root: Path, verified: "Verified | None", *, name: str, annotations_only: bool,
                   allow_leaks: bool) -> tuple["LicenceReport", dict[str, Any]]:
    """Validation, the licence and PHI guards and the release audit, from ``verified`` facts where they settle
    the question and from the rows otherwise (every refusal is worded from the rows: a folder whose facts record
    a problem is checked in full). Returns the licence report and the card's Checks figures."""
    from vgmed_data.guards import check_licences, check_phi

    from_facts = verified is not None and verified.problems == 0 and (
        allow_leaks or verified.patients_in_several_splits() == 0)
    _folder_problems(root, allow_leaks=allow_leaks, rows=not from_facts)
    report = check_licences(root, annotations_only=annotations_only,
                            report=verified.licence_report() if verified else None)
    if verified is None or not verified.phi_clean(images_published=not annotations_only):
        check_phi(root, images_published=not annotations_only)
    checks = release_checks(root, name=name, allow_leaks=allow_leaks,
                            recorded=verified.audit() if verified else None)
    return report, checks


def release_checks(folder: Path, *, name: str, allow_leaks: bool,
                   recorded: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Audit the release on its own (``recorded``: the audit the folder facts hold, else every row is read);
    refuse leaks unless ``allow_leaks``. Returns what the card's Checks section says (what was checked, the
    threshold, the counts)."""
    from vgmed_data.audit import audit

    summary = dict(recorded) if recorded is not None else audit(folder, name=name).summary()
    leaks = {kind: count for kind, count in summary["leaks"].items() if count}
    if leaks and not allow_leaks:
        listed = ", ".join(f"{kind}: {count}" for kind, count in leaks.items())
        raise PublishRefusedError(
            f"the release leaks between its splits ({listed})", path=folder,
            fix=f"run `vgmed audit {folder} --out DIR` to see each pair and patient, rebuild so they stay in one "
                "split, or publish with --allow-leaks to state the counts in the card")
    return {"threshold": summary["threshold"], "leaks": summary["leaks"], "counts": summary["counts"],
            "allowed": bool(leaks), "images": summary["images"], "rows": summary["rows"]}


def register_publish(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="a dataset folder (data/<config>/*.parquet + README.md)")
    parser.add_argument("--repo", required=True, metavar="ORG/NAME", help="the dataset repository")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--revision", metavar="TAG", help="tag this version (e.g. v1.0); an existing tag is refused")
    parser.add_argument("--annotations-only", action="store_true",
                        help="publish no image or mask bytes: annotations with pointers to the sources, gated "
                             "when a source does not allow redistribution")
    parser.add_argument("--max-commit-bytes", type=_positive_int, default=DEFAULT_MAX_COMMIT_BYTES, metavar="N",
                        help="above this many bytes of shards, upload resumably in several commits of at most N "
                             f"bytes on a staging branch, then publish in one final commit (default: "
                             f"{DEFAULT_MAX_COMMIT_BYTES}); re-running after an interruption skips staged shards")
    parser.add_argument("--allow-leaks", action="store_true",
                        help="publish even when the audit finds cross-split duplicate images or patients in "
                             "several splits (refused otherwise); the counts go into the card's Checks section")
    parser.add_argument("--token", help="a write token (default: HF_TOKEN or the saved login); never stored")
    parser.add_argument("--endpoint", help="the Hub URL (default: HF_ENDPOINT or https://huggingface.co)")
    add_quiet_argument(parser)
    parser.set_defaults(func=run_publish)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of bytes") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of bytes")
    return value


def run_publish(args: argparse.Namespace) -> int:
    from vgmed_data.progress import hub_progress

    with hub_progress(quiet=args.quiet):  # upload bars on a terminal only, as for the other long commands
        result = publish_dataset(args.folder, repo_id=args.repo, token=args.token, endpoint=args.endpoint,
                                 private=args.private, revision=args.revision,
                                 annotations_only=args.annotations_only, max_commit_bytes=args.max_commit_bytes,
                                 allow_leaks=args.allow_leaks)
    print(f"published {result.commit.repo_id} at commit {result.commit.commit_oid}"
          + (f", tagged {result.commit.tag}" if result.commit.tag else "")
          + (" (gated: access requests are reviewed)" if result.gated else ""))
    print(result.url)
    print("from datasets import load_dataset")
    for line in result.load_lines():
        print(f"ds = {line}")
    return 0
