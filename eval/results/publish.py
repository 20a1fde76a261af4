"""``vgmed eval publish RUN_DIR --repo ORG/NAME``: append one run's results to a results dataset on the Hub.

Appending safely, with the generic one-commit publisher (:func:`vgmed_data.hub.publish_files`):

* each run goes into its own files, named by its run id (:func:`vgmed_data.eval.results.folder.shard_path`), so two
  publishers never write the same path with different bytes, and the card is the same for every run;
* a run whose ``runs`` file is already in the repository is not published again (re-publishing is a no-op);
* every commit names its parent (the head read just before); when another job commits in between, the Hub
  refuses ours (412) and we read the new head and commit again, up to ``attempts`` times. Nothing is lost and
  nothing is duplicated, whatever the interleaving.

``--folder DIR`` writes the same layout to a local folder instead (what ``vgmed eval serve`` can read too).

A repository (or folder) written in an older results format is upgraded in the same commit as the new run: its old
``runs`` files are rewritten with the columns added since and the card records the current version
(:mod:`vgmed_data.eval.results.migrate`), so ``load_dataset`` reads old and new rows together.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from vgmed_data.eval.results.collect import Provenance, RunResults, collect_run
from vgmed_data.eval.results.folder import shard_path, write_run_files
from vgmed_data.eval.results.migrate import Migration, upgraded_runs_files
from vgmed_data.eval.results.schema import RUNS
from vgmed_data.errors import RemoteError
from vgmed_data.userfiles import CARD_LIMIT, read_text_bounded

DEFAULT_ATTEMPTS = 8


@dataclass(frozen=True)
class PublishedRun:
    run_id: str
    repo_id: str
    commit_oid: str | None  # None: the run was already there (nothing committed)
    rows: int
    sample_rows: int
    attempts: int
    migration: Migration = Migration(files={}, from_version=None)  # old-format files rewritten in the commit

    @property
    def already_present(self) -> bool:
        return self.commit_oid is None


def _remote_files(repo_id: str, *, token: str | None, endpoint: str | None) -> tuple[str | None, set[str]]:
    """(head oid, files at head); (None, empty) when the repository does not exist yet."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    from huggingface_hub import constants

    from vgmed_data.hub import resolve_token

    api = HfApi(endpoint=(endpoint or constants.ENDPOINT).rstrip("/"), token=resolve_token(token))
    try:
        info = api.dataset_info(repo_id, revision="main", files_metadata=False)
    except (RepositoryNotFoundError, RevisionNotFoundError):
        return None, set()
    return info.sha, {s.rfilename for s in info.siblings or []}


def _remote_migration(repo_id: str, *, head: str, present: set[str], token: str | None, endpoint: str | None,
                      staging: Path) -> Migration:
    """The old-format ``runs`` files at ``head``, rewritten in the current format under ``staging``."""
    from huggingface_hub import hf_hub_download

    from vgmed_data.hub import resolve_token

    def fetch(path: str) -> Path:
        return Path(hf_hub_download(repo_id, path, repo_type="dataset", revision=head, token=resolve_token(token),
                                    endpoint=endpoint, cache_dir=staging / "cache"))

    card = fetch("README.md").read_text(encoding="utf-8") if "README.md" in present else None
    return upgraded_runs_files(present, card=card, fetch=fetch, staging=staging / head)


def publish_results(results: RunResults, *, repo_id: str, token: str | None = None, endpoint: str | None = None,
                    private: bool = False, attempts: int = DEFAULT_ATTEMPTS) -> PublishedRun:
    """Append ``results`` to the results dataset ``repo_id`` (created if needed)."""
    from vgmed_data.hub import ensure_repo, publish_files

    # The repository must exist before the first head is read: with no head there is no parent commit to pin,
    # and two jobs could both commit the same run unseen.
    ensure_repo(repo_id, private=private, endpoint=endpoint, token=token)
    marker = shard_path(RUNS, results.run_id)
    with tempfile.TemporaryDirectory(prefix="vgmed-results-") as staging:
        files = write_run_files(results, staging)
        for attempt in range(1, attempts + 1):
            head, present = _remote_files(repo_id, token=token, endpoint=endpoint)
            if marker in present:
                return PublishedRun(run_id=results.run_id, repo_id=repo_id, commit_oid=None, rows=0,
                                    sample_rows=0, attempts=attempt)
            migration = _remote_migration(repo_id, head=head, present=present, token=token, endpoint=endpoint,
                                          staging=Path(staging)) if head else Migration(files={}, from_version=None)
            try:
                commit = publish_files(
                    repo_id=repo_id, files={path: str(local) for path, local in {**migration.files, **files}.items()},
                    token=token,
                    endpoint=endpoint, private=private, parent_commit=head,
                    message=f"Add evaluation run {results.run_id} ({len(results.runs)} rows) with vgmed-data"
                            + (f"; {migration.describe('the dataset')}" if migration.files else ""))
            except RemoteError:
                now, _ = _remote_files(repo_id, token=token, endpoint=endpoint)
                if now == head or attempt == attempts:  # not a concurrent commit, or out of attempts
                    raise
                time.sleep(random.uniform(0.05, 0.3) * attempt)  # another job committed first: read again
                continue
            if not commit.changed:  # another job committed these very files between our read and our commit
                return PublishedRun(run_id=results.run_id, repo_id=repo_id, commit_oid=None, rows=0,
                                    sample_rows=0, attempts=attempt)
            return PublishedRun(run_id=results.run_id, repo_id=repo_id, commit_oid=commit.commit_oid,
                                rows=len(results.runs), sample_rows=len(results.samples), attempts=attempt,
                                migration=migration)
    raise AssertionError("unreachable")  # the loop returns or raises


def publish_run(run_dir: str | os.PathLike[str], *, repo_id: str, token: str | None = None,
                endpoint: str | None = None, private: bool = False, with_samples: bool = True,
                provenance: Provenance = Provenance()) -> PublishedRun:
    """Read a run folder and append it to ``repo_id``."""
    results = collect_run(run_dir, provenance=provenance, with_samples=with_samples)
    return publish_results(results, repo_id=repo_id, token=token, endpoint=endpoint, private=private)


def save_run(run_dir: str | os.PathLike[str], folder: str | os.PathLike[str], *, with_samples: bool = True,
             provenance: Provenance = Provenance()) -> Path:
    """Append a run to a local results folder (same layout as the Hub dataset); returns the runs file."""
    results = collect_run(run_dir, provenance=provenance, with_samples=with_samples)
    migrate_folder(folder)
    written = write_run_files(results, folder)
    return written[shard_path(RUNS, results.run_id)]


def migrate_folder(folder: str | os.PathLike[str]) -> Migration:
    """Upgrade a local results folder written in an older results format in place (its old ``runs`` files and
    the card); nothing happens to a folder already in the current format or without a card."""
    from vgmed_data.eval.results.folder import results_card

    root = Path(folder)
    card = root / "README.md"
    if not card.exists():
        return Migration(files={}, from_version=None)
    with tempfile.TemporaryDirectory(prefix="vgmed-results-", dir=root) as staging:
        paths = {p.relative_to(root).as_posix() for p in (root / "data" / RUNS).glob("*.parquet")}
        migration = upgraded_runs_files(paths, card=read_text_bounded(card, limit=CARD_LIMIT, what="README.md"), fetch=lambda p: root / p,
                                        staging=Path(staging))
        for path, local in migration.files.items():
            os.replace(local, root / path)
        if migration.files:
            card.write_text(results_card())
    return Migration(files={path: root / path for path in migration.files}, from_version=migration.from_version)
