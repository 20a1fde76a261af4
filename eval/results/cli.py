"""``vgmed eval publish`` and ``vgmed eval serve`` (registered by :mod:`vgmed_data.eval.cli`)."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vgmed_data.errors import InvalidInputError, RemoteError, SourceNotFoundError

if TYPE_CHECKING:
    from vgmed_data.eval.results.collect import Provenance


def _provenance(args: argparse.Namespace) -> "Provenance":
    from vgmed_data.eval.results.collect import Provenance

    return Provenance(model_revision=args.model_revision or "", dataset_revision=args.dataset_revision or "",
                      hardware=args.hardware or "", command=args.command or "")


def _publish(args: argparse.Namespace) -> int:
    from vgmed_data.eval.results.publish import migrate_folder, publish_run, save_run

    if bool(args.repo) == bool(args.folder):
        raise InvalidInputError("give exactly one of --repo ORG/NAME and --folder DIR")
    if args.folder:
        if line := migrate_folder(args.folder).describe(str(args.folder)):
            print(line)
        path = save_run(args.run_dir, args.folder, with_samples=not args.no_samples, provenance=_provenance(args))
        print(f"wrote {path}")
        return 0
    result = publish_run(args.run_dir, repo_id=args.repo, token=args.token, endpoint=args.endpoint,
                         private=args.private, with_samples=not args.no_samples, provenance=_provenance(args))
    if line := result.migration.describe(result.repo_id):
        print(line)
    if result.already_present:
        print(f"run {result.run_id} is already in {result.repo_id}: nothing to publish")
    else:
        print(f"appended run {result.run_id} to {result.repo_id} ({result.rows} rows, {result.sample_rows} samples) "
              f"at commit {result.commit_oid}")
    print(f'load_dataset("{result.repo_id}", "runs", split="train")')
    return 0


SCRATCH_PREFIXES = ("vgmed-results-", "vgmed-space-cache-")  # + "<pid>-<random>" under the temporary folder
_SCRATCH = re.compile(r"^vgmed-(?:results|space-cache)-(\d+)-[A-Za-z0-9_]+$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def scratch_folder(prefix: str) -> Path:
    """A new temporary folder named with this process's id, so a later run can tell when it was left behind."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))


def remove_stale_scratch() -> list[Path]:
    """Remove the temporary folders of ``eval serve`` runs that were killed (their process is gone)."""
    from vgmed_data.staging import process_alive

    removed = []
    for entry in Path(tempfile.gettempdir()).iterdir():
        found = _SCRATCH.match(entry.name)
        if found and entry.is_dir() and not entry.is_symlink() and not process_alive(int(found.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def resolve_results(source: str, *, scratch: list[Path]) -> str:
    """A results folder or Hub id as given; a run folder (``run.json``) is converted into a temporary results
    folder first (appended to ``scratch``), so ``vgmed eval serve RUN_DIR`` shows a run without publishing it."""
    path = Path(source)
    if (path / "run.json").exists():
        from vgmed_data.eval.results.publish import save_run

        folder = scratch_folder(SCRATCH_PREFIXES[0])
        scratch.append(folder)
        save_run(path, folder)
        return str(folder)
    if not path.exists() and not _HUB_ID.match(source):
        raise SourceNotFoundError("results folder not found", path=path,
                                  fix="pass a run folder, a results folder, or a Hub id ORG/NAME")
    if path.exists() and not (path / "README.md").exists():
        raise InvalidInputError(f"{source} is neither a run folder (run.json) nor a results folder (README.md)",
                                path=path, fix="pass a run folder, a results folder, or a Hub id ORG/NAME")
    if path.exists():
        from vgmed_data.folder import check_card_paths, read_card

        header, _ = read_card(path) or ({}, "")
        check_card_paths(path, header)  # datasets reads what the card's data_files name
        declared = header.get("configs")
        configs = declared if isinstance(declared, list) else []
        if "runs" not in {config.get("config_name") for config in configs if isinstance(config, dict)}:
            raise SourceNotFoundError("README.md declares no 'runs' configuration: this is not a results folder",
                                      path=path, fix="pass a folder written by `vgmed eval publish --folder`, or a "
                                      "run folder")
    return source


def _check_address(host: str, port: int) -> None:
    """Refuse a port outside 0-65535 and a host name that does not resolve, before anything is loaded."""
    if not 0 <= port <= 65535:
        raise InvalidInputError(f"--port {port} is not a port number", fix="use a port from 0 to 65535 (0: any free one)")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise InvalidInputError(f"--host {host!r} cannot be resolved ({getattr(error, 'strerror', None) or error})",
                                fix="use an address of this machine: 127.0.0.1 (this machine only) or 0.0.0.0 (all)"
                                ) from None


def _load(app: Any, source: str, *, token: str | None, cache: Path) -> Any:
    """The results dataset; a folder or Hub id without a readable ``runs`` configuration is one line."""
    try:
        return app.load_results(source, token=token, cache_dir=str(cache))
    except ConnectionError as error:
        raise RemoteError(f"the results dataset {source} cannot be reached ({error})",
                          fix="check the id and the network, or pass a local results folder") from None
    except (FileNotFoundError, ValueError) as error:  # datasets: no data files, no 'runs' configuration
        raise SourceNotFoundError(f"no 'runs' configuration could be read ({' '.join(str(error).split())[:200]})",
                                  path=source, fix="pass a folder written by `vgmed eval publish --folder`, or a "
                                  "run folder") from None


def _serve(args: argparse.Namespace) -> int:
    from vgmed_data.eval.results.page import app  # the packaged page: nothing is read from a checkout
    from vgmed_data.progress import hub_progress

    _check_address(args.host, args.port)
    remove_stale_scratch()
    scratch: list[Path] = []
    try:
        with hub_progress():  # datasets' bars (writing the run's Parquet, loading) only on a terminal
            source = resolve_results(args.results, scratch=scratch)
            cache = scratch_folder(SCRATCH_PREFIXES[1])  # a rebuilt folder must not hit a stale cache
            scratch.append(cache)
            results = _load(app, source, token=args.token, cache=cache)
        try:
            server = app.make_server(results, host=args.host, port=args.port)
        except OSError as error:
            raise InvalidInputError(f"cannot listen on {args.host}:{args.port} ({error.strerror or error})",
                                    fix="choose another --port, or stop the program that uses it") from None
        print(f"VGMED leaderboard: {len(results.runs)} rows on http://{args.host}:{server.server_address[1]}/ "
              "(Ctrl-C to stop)", flush=True)
        app.serve_until_interrupted(server)
    finally:
        for folder in scratch:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def register_publish(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a finished run folder (vgmed eval run --out DIR)")
    parser.add_argument("--repo", metavar="ORG/NAME", help="the results dataset on the Hub (appended to)")
    parser.add_argument("--folder", type=Path, help="a local results folder instead of the Hub (appended to)")
    parser.add_argument("--no-samples", action="store_true",
                        help="publish the summary rows only (no per-sample images, maps and answers)")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--token", help="a write token (default: HF_TOKEN or the saved login); never stored")
    parser.add_argument("--endpoint", help="the Hub URL (default: HF_ENDPOINT or https://huggingface.co)")
    parser.add_argument("--model-revision", help="the checkpoint's commit (default: read from the Hub or hashed)")
    parser.add_argument("--dataset-revision", help="the dataset's commit (default: read from the Hub or hashed)")
    parser.add_argument("--hardware", help="what the run ran on (default: this machine's GPU or CPU)")
    parser.add_argument("--command", help="the command that produced the run (default: rebuilt from run.json)")
    parser.set_defaults(func=_publish)


def register_serve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="a results dataset (Hub id ORG/NAME or folder) or a run folder")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback only by default)")
    parser.add_argument("--port", type=int, default=7860, help="TCP port, 1-65535")
    parser.add_argument("--token", help="a read token for a private or gated results dataset")
    parser.set_defaults(func=_serve)
