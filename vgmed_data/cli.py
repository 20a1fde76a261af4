"""The ``vgmed`` command line.

Each top-level command lives in the package that owns it and is imported only when that command runs, so
``vgmed --help`` is fast and never imports torch or label-studio-sdk. A command module exposes
``register(parser: argparse.ArgumentParser) -> None`` that adds its arguments (and sub-commands) and sets
``parser.set_defaults(func=...)``; ``func(args) -> int | None`` does the work.

The error boundary: user errors (:class:`~vgmed_data.errors.VgmedError`, and ``OSError`` naming a file: a
full disk, a permission) are printed as one line with the fix and exit code 2. Any other exception is a bug:
one line saying so, exit code 70 (``EX_SOFTWARE``); tests/robustness asserts that no malformed input reaches
it. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
import warnings
from collections.abc import Sequence

from vgmed_data.errors import VgmedError

# name -> (one-line help, "module:function" that registers the command's arguments)
COMMANDS: dict[str, tuple[str, str]] = {
    "annotate": ("expert-region review in Label Studio: serve, push, status, pull, agreement, adjudicate, finalize", "vgmed_data.annotation.cli:register"),
    "eval": ("evaluate multimodal LLMs: attention grounding, answers, boxes", "vgmed_data.eval.cli:register"),
    "demo": ("build, validate and preview a small dataset from files that ship with pydicom/nibabel",
             "vgmed_data.demo:register"),
    "render": ("render a DICOM, NIfTI or raster file to the PNG that would go into a dataset",
               "vgmed_data.imaging.cli:register"),
    "sources": ("list, download and verify the public sources the builders know", "vgmed_data.builders.cli:register_sources"),
    "build": ("build a dataset configuration (vgmed, ...) from downloaded sources", "vgmed_data.builders.cli:register_build"),
    "import": ("import another dataset format (vgmed-jsonl, medsg) into a dataset folder", "vgmed_data.builders.cli:register_import"),
    "export": ("export a dataset folder to another format (vgmed-jsonl, medsg, lmms-eval, vlmevalkit)", "vgmed_data.builders.cli:register_export"),
    "validate": ("check a dataset folder: schema, boxes, unique ids, patient-level splits",
                 "vgmed_data.validate:register"),
    "audit": ("find duplicate images (exact, near) and patient leakage across splits, sources and other datasets",
              "vgmed_data.audit:register"),
    "publish": ("publish a dataset folder to the Hugging Face Hub (validated, licence/PHI guards, card, tag)",
                "vgmed_data.hub:register_publish"),
    "hydrate": ("put images back into an annotations-only folder from local copies of its sources",
                "vgmed_data.pointers:register_hydrate"),
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vgmed-data")
    except PackageNotFoundError:
        return "unknown"


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vgmed",
        description="Build, review, publish and evaluate medical visual-grounding datasets.",
    )
    parser.add_argument("--version", action="version", version=f"vgmed-data {_version()}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    return parser


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module (if any) is imported."""
    parser = _top_parser()
    # A private dest: a command's own options (e.g. `eval publish --command`) must not overwrite it.
    sub = parser.add_subparsers(dest="_vgmed_command", metavar="COMMAND")
    for name, (help_text, target) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=sentence(help_text))
        if name == command:
            module_name, function_name = target.split(":")
            getattr(importlib.import_module(module_name), function_name)(command_parser)
            complete_help(command_parser)
    return parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[str | None, argparse.ArgumentParser]]:
    """``parser``'s sub-commands: name -> (the one-line help given to ``add_parser``, the sub-parser)."""
    found: dict[str, tuple[str | None, argparse.ArgumentParser]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found[name] = (helps.get(name), sub)
    return found


def complete_help(parser: argparse.ArgumentParser) -> None:
    """Every sub-command's ``--help`` opens with the sentence its parent lists it with (unless it has its own
    description), and every option with a default states it, once, in its help. Applied to the whole tree below
    ``parser`` so that no command module has to repeat its defaults by hand."""
    for action in parser._actions:
        if action.option_strings and action.help not in (None, argparse.SUPPRESS):
            default = action.default
            if default not in (None, False, argparse.SUPPRESS) and "default" not in action.help.lower():
                shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else default
                action.help = f"{action.help} (default: {str(shown).replace('%', '%%')})"
    for help_text, sub in subcommands(parser).values():
        if not sub.description and help_text:
            sub.description = sentence(help_text)
        complete_help(sub)


def sentence(text: str) -> str:
    """A one-line help (``"list the sources"``) as the sentence a help page opens with (``"List the sources."``)."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    debug = "--debug" in args_list
    with warnings.catch_warnings():
        if not debug:  # a library's warning is one line too, without the source line Python would print
            warnings.showwarning = _one_line_warning
        return _run(args_list, command=command, debug=debug)


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      file: object = None, line: str | None = None) -> None:
    print(f"vgmed: warning: {one_line(str(message))} ({category.__name__})", file=sys.stderr)


def _run(args_list: list[str], *, command: str | None, debug: bool) -> int:
    try:
        parser = build_parser(command if command in COMMANDS else None)
        args = parser.parse_args(args_list)
        if args._vgmed_command is None:
            parser.print_help()
            return 0
        func = getattr(args, "func", None)
        if func is None:
            parser.parse_args([args._vgmed_command, "--help"])
            return 0
        return int(func(args) or 0)
    except VgmedError as error:
        if debug:
            raise
        print(f"vgmed: error: {one_line(str(error))}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        # An optional extra that is not installed (torch, transformers, matplotlib, label-studio-sdk): the user's
        # to fix with one install line. A module of no extra is a bug and falls through to the internal error.
        if debug:
            raise
        missing = _missing_extra(error, command=command)
        if missing is None:
            return _internal_error(error)
        print(f"vgmed: error: {missing}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vgmed: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and friends: stop quietly, as Unix tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        # The machine, not the data: a full disk, a permission, a path that is a folder. Errors that name their
        # file, or whose errno is about the machine (a write to a full disk names no file), are the user's to
        # fix; any other OSError is a bug and goes to the internal-error line.
        if debug:
            raise
        if error.filename is None and error.errno not in _MACHINE_ERRNOS:
            return _internal_error(error)
        where = f"{error.filename}: " if error.filename is not None else ""
        print(f"vgmed: error: {where}{one_line(error.strerror or str(error))}. "
              "Fix: check the path, its permissions and the free disk space", file=sys.stderr)
        return 2
    except MemoryError:
        if debug:
            raise
        print("vgmed: error: out of memory. Fix: free memory, or process a smaller input", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - last resort: a bug; one line, and the corpus test asserts none
        if debug:
            raise
        return _internal_error(error)


def _missing_extra(error: ModuleNotFoundError, *, command: str | None) -> str | None:
    from vgmed_data.extras import extra_providing, install_command

    name = error.name or ""
    extra = extra_providing(name, command=command) if name else None
    if extra is None:
        return None
    return (f"'vgmed {command}' needs the '{name.split('.')[0]}' package of the [{extra}] extra, which is not "
            f"installed. Fix: {install_command(extra)}")


_MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EMFILE,
                             errno.ENFILE, errno.EIO})
INTERNAL_ERROR_EXIT = 70  # EX_SOFTWARE (sysexits.h): distinct from 1 (findings) and 2 (user errors)


def one_line(text: str) -> str:
    """Messages are one line: embedded newlines (a server's answer, a library's message) become ' | '."""
    return " | ".join(part.strip() for part in text.splitlines() if part.strip())


def _internal_error(error: BaseException) -> int:
    print(f"vgmed: internal error ({type(error).__name__}: {one_line(str(error))[:300]}); this is a bug, please "
          "report it with the command and the output of the same command with --debug", file=sys.stderr)
    return INTERNAL_ERROR_EXIT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
