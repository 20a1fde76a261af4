"""``vgmed eval publish`` and ``vgmed eval serve`` (registered by :mod:`vgmed_data.eval.cli`)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from vgmed_data.errors import InvalidInputError

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


def resolve_results(source: str) -> str:
    """A results folder or Hub id as given; a run folder (``run.json``) is converted into a temporary results
    folder first, so ``vgmed eval serve RUN_DIR`` shows a run without publishing it."""
    path = Path(source)
    if (path / "run.json").exists():
        from vgmed_data.eval.results.publish import save_run

        folder = Path(tempfile.mkdtemp(prefix="vgmed-results-"))
        save_run(path, folder)
        return str(folder)
    if path.exists() and not (path / "README.md").exists():
        raise InvalidInputError(f"{source} is neither a run folder (run.json) nor a results folder (README.md)",
                                path=path, fix="pass a run folder, a results folder, or a Hub id ORG/NAME")
    return source


def _serve(args: argparse.Namespace) -> int:
    from vgmed_data.eval.results.page import app  # the packaged page: nothing is read from a checkout

    results = app.load_results(resolve_results(args.results), token=args.token)
    server = app.make_server(results, host=args.host, port=args.port)
    print(f"VGMED leaderboard: {len(results.runs)} rows on http://{args.host}:{server.server_address[1]}/ "
          "(Ctrl-C to stop)", flush=True)
    app.serve_until_interrupted(server)
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
