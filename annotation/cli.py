"""``vgmed annotate ...``: serve, push, status, pull, agreement, adjudicate, finalize (and dry-run).

Every command works in a workspace folder (``--workspace``, default ``./vgmed-annotation``) that holds the local
state, the pulls and, for the embedded server, its data. Commands other than ``serve`` take ``--url``/``--token``
for a team's own server; without them they use the server started by ``serve`` in the same workspace.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from vgmed_data.progress import add_quiet_argument

DEFAULT_WORKSPACE = Path("vgmed-annotation")


def _connection(args: argparse.Namespace):  # noqa: ANN202 - Connection, imported lazily
    from vgmed_data.annotation.client import resolve_connection

    return resolve_connection(workspace=args.workspace, url=args.url, token=args.token,
                              document_root=getattr(args, "document_root", None))


class _Stopped(Exception):
    """Ctrl+C, SIGTERM or SIGHUP arrived: stop the server and exit 0."""


def _stop_on(signum: int, frame: object) -> None:
    import signal

    for other in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second signal must not cut the stop short
        signal.signal(other, signal.SIG_IGN)
    raise _Stopped(signum)


def _serve(args: argparse.Namespace) -> int:
    import signal

    from vgmed_data.annotation.client import server_dir
    from vgmed_data.annotation.server import ServerSettings, load_settings, save_settings, start_server

    data_dir = server_dir(args.workspace)
    settings = load_settings(data_dir)
    if settings is None:
        settings = ServerSettings.create(data_dir=data_dir, host=args.host, port=args.port)
        save_settings(settings)
    elif args.port and args.port != settings.port:
        from dataclasses import replace

        settings = replace(settings, port=args.port)
        save_settings(settings)
    # Ctrl+C, SIGTERM (kill, systemd, docker stop) and SIGHUP (the terminal closed) all stop the server: it runs
    # in its own process group, so without this it would outlive us.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on)
    # flush: the lines are read by whoever started us (a terminal, a pipe, a log collector) while we keep running
    print("starting Label Studio (the first run installs it into its own environment, ~1 minute)...", flush=True)
    server = None
    try:
        server = start_server(settings, progress=lambda line: print(line, flush=True))
        print(f"Label Studio is running at {settings.url} (pid {server.pid})", flush=True)
        print(f"log in as {settings.username}; password and API token are in {data_dir / 'vgmed-server.json'} "
              "(owner-readable only)", flush=True)
        print(f"other commands with --workspace {args.workspace} use this server; stop it with Ctrl+C", flush=True)
        while server.process.poll() is None:
            time.sleep(0.5)
        print(f"Label Studio exited with code {server.process.returncode}; see {server.log_path}", flush=True)
        return 1
    except (KeyboardInterrupt, _Stopped):  # KeyboardInterrupt: a Ctrl+C before the handlers were installed
        if server is not None:  # start_server stops what it started when interrupted while waiting
            server.stop()
        print("stopped", flush=True)
        return 0


def _push(args: argparse.Namespace) -> int:
    from vgmed_data.annotation.push import push_dataset
    from vgmed_data.annotation.state import open_state

    connection = _connection(args)
    sources = _sources(args)
    with open_state(args.workspace) as state:
        report = push_dataset(connection, state, dataset=args.dataset, project=args.project, mask_as=args.mask_as,
                              annotators_per_task=args.annotators, batch_size=args.batch_size, split=args.split,
                              sources=sources, quiet=args.quiet)
    print("\n".join(report.lines()))
    return 0


def _status(args: argparse.Namespace) -> int:
    from vgmed_data.annotation.state import open_state
    from vgmed_data.annotation.status import all_status

    connection = _connection(args)
    with open_state(args.workspace) as state:
        statuses = all_status(connection, state, projects=args.project or None)
    for status in statuses:
        print("\n".join(status.lines()))
    if not statuses:
        print(f"{connection.url}: connected; no project in {args.workspace} yet (vgmed annotate push creates one)")
    return 0


def _pull(args: argparse.Namespace) -> int:
    from vgmed_data.annotation.pull import pull_project
    from vgmed_data.annotation.state import open_state

    connection = _connection(args)
    with open_state(args.workspace) as state:
        report = pull_project(connection, state, workspace=args.workspace, project=args.project, full=args.full,
                              quiet=args.quiet)
    print("\n".join(report.lines()))
    return 0


def _agreement(args: argparse.Namespace) -> int:
    from vgmed_data.annotation.agreement import project_agreement, write_agreement
    from vgmed_data.annotation.pull import current_tasks
    from vgmed_data.annotation.state import open_state

    with open_state(args.workspace) as state:
        report = project_agreement(args.project, current_tasks(state, args.project).values())
    paths = write_agreement(report, folder=args.out or args.workspace / "agreement" / args.project)
    print(report.table())
    print(f"wrote {paths['csv']}, {paths['json']}, {paths['png']}")
    return 0


def _adjudicate(args: argparse.Namespace) -> int:
    from vgmed_data.annotation.adjudicate import adjudicate
    from vgmed_data.annotation.state import open_state

    connection = _connection(args)
    with open_state(args.workspace) as state:
        report, selected = adjudicate(connection, state, project=args.project, threshold=args.threshold,
                                      target=args.into)
    print(f"{len(selected)} task(s) under box IoU {args.threshold} or with differing verdicts")
    print("\n".join(report.lines()))
    return 0


def _finalize(args: argparse.Namespace) -> int:
    from vgmed_data.annotation.finalize import finalize
    from vgmed_data.annotation.state import open_state

    with open_state(args.workspace) as state:
        report = finalize(state, project=args.project, out=args.out, threshold=args.threshold)
    print("\n".join(report.lines()))
    return 0


def _dry_run(args: argparse.Namespace) -> int:
    from vgmed_data.annotation.dryrun import prepare_review_files

    summary = prepare_review_files(args.dataset, out=args.out, mask_as=args.mask_as, sources=_sources(args))
    print(f"wrote the label configuration, the guideline and {summary.tasks} task(s) to {summary.out}")
    return 0


def _common(parser: argparse.ArgumentParser, *, remote: bool) -> None:
    parser.add_argument("--workspace", type=Path, default=DEFAULT_WORKSPACE,
                        help="folder with the local state and pulls (default: ./vgmed-annotation)")
    if remote:
        parser.add_argument("--url", help="Label Studio URL (default: the server of 'vgmed annotate serve')")
        parser.add_argument("--token", help="API token (or LABEL_STUDIO_API_KEY); never printed")


def _sources(args: argparse.Namespace) -> dict[str, Path]:
    from vgmed_data.pointers import parse_source_pair

    return {key: Path(path) for key, path in (parse_source_pair(value) for value in args.source or [])}


def _source_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", action="append", metavar="KEY=PATH",
                        help="a local copy of source KEY (repeatable; as for `vgmed hydrate`): its CT and MR rows get "
                             "window views rendered from the source pixels, an annotations-only row its image")


def _document_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--document-root", type=Path, default=None,
                        help="the server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT (images are copied under it)")


def register(parser: argparse.ArgumentParser) -> None:
    from vgmed_data.annotation.defaults import DEFAULT_BATCH, DEFAULT_THRESHOLD, MASK_AS

    sub = parser.add_subparsers(dest="annotate_command", metavar="STEP")

    serve = sub.add_parser("serve", help="start a local Label Studio (own environment, SQLite, loopback)")
    _common(serve, remote=False)
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    serve.add_argument("--port", type=int, default=None, help="port (default: a free one, then kept)")
    serve.set_defaults(func=_serve)

    push = sub.add_parser("push", help="push a dataset folder's samples as tasks with pre-drawn regions")
    push.add_argument("dataset", type=Path, help="dataset folder (vgmed configuration)")
    push.add_argument("--project", required=True, help="Label Studio project title (3-50 characters)")
    _common(push, remote=True)
    _document_root(push)
    push.add_argument("--annotators", type=int, default=2, help="annotators per task (default: 2)")
    push.add_argument("--batch-size", type=int, default=DEFAULT_BATCH,
                      help=f"tasks per import (default: {DEFAULT_BATCH})")
    push.add_argument("--mask-as", choices=MASK_AS, default="brush", help="how masks are pre-drawn (default: brush)")
    push.add_argument("--split", default=None, help="push one split only")
    _source_option(push)
    add_quiet_argument(push)
    push.set_defaults(func=_push)

    status = sub.add_parser("status", help="progress per project and annotator")
    status.add_argument("--project", action="append", help="project (repeatable; default: all in the workspace)")
    _common(status, remote=True)
    status.set_defaults(func=_status)

    pull = sub.add_parser("pull", help="pull what changed since the last pull (append-only)")
    pull.add_argument("--project", required=True, help="Label Studio project title, as given to `vgmed annotate push`")
    pull.add_argument("--full", action="store_true", help="pull every task again (still a new pull file)")
    add_quiet_argument(pull)
    _common(pull, remote=True)
    pull.set_defaults(func=_pull)

    agreement = sub.add_parser("agreement", help="box IoU, mask Dice and verdict agreement; table and PNG")
    agreement.add_argument("--project", required=True, help="Label Studio project title, as given to `vgmed annotate push`")
    agreement.add_argument("--out", type=Path, default=None, help="folder (default: WORKSPACE/agreement/PROJECT)")
    _common(agreement, remote=False)
    agreement.set_defaults(func=_agreement)

    adjudication = sub.add_parser("adjudicate", help="send disagreeing tasks to an adjudication project")
    adjudication.add_argument("--project", required=True, help="Label Studio project title, as given to `vgmed annotate push`")
    adjudication.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                              help=f"box IoU under which a task is adjudicated (default: {DEFAULT_THRESHOLD})")
    adjudication.add_argument("--into", default=None, help="adjudication project (default: PROJECT-adjudication)")
    _common(adjudication, remote=True)
    _document_root(adjudication)  # the adjudication project's tasks reference the same images
    adjudication.set_defaults(func=_adjudicate)

    final = sub.add_parser("finalize", help="write the reviewed dataset folder")
    final.add_argument("--project", required=True, help="Label Studio project title, as given to `vgmed annotate push`")
    final.add_argument("--out", type=Path, required=True,
                       help="dataset folder to write with the reviewed regions and verdicts")
    final.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                       help="box IoU under which two annotators disagree and the sample awaits adjudication")
    _common(final, remote=False)
    final.set_defaults(func=_finalize)

    dry = sub.add_parser("dry-run", help="write the label config, guideline and task JSON without a server")
    dry.add_argument("dataset", type=Path, help="dataset folder (vgmed configuration)")
    dry.add_argument("--out", type=Path, required=True, help="folder for the tasks JSON and the labelling config")
    dry.add_argument("--mask-as", choices=MASK_AS, default="brush", help="how masks are pre-drawn")
    _source_option(dry)
    dry.set_defaults(func=_dry_run)
