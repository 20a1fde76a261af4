"""The whole ``vgmed`` command tree explains itself (issue 32 item 3): every command's ``--help`` opens with a
sentence saying what it does, every argument has help, and every option with a default states it. The tree is
walked through the real parsers, as ``vgmed <command> ... --help`` builds them."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from vgmed_data.cli import COMMANDS, build_parser, main, subcommands

SKIP = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)


def _tree() -> list[tuple[str, argparse.ArgumentParser]]:
    found: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(path: str, parser: argparse.ArgumentParser) -> None:
        found.append((path, parser))
        for name, (_, sub) in subcommands(parser).items():
            walk(f"{path} {name}", sub)

    for command in COMMANDS:
        walk(command, subcommands(build_parser(command))[command][1])
    return found


TREE = _tree()


def test_the_tree_is_complete_enough_to_be_worth_walking() -> None:
    paths = {path for path, _ in TREE}
    assert {"eval run", "eval select", "annotate finalize", "sources verify", "import vgmed-jsonl",
            "export lmms-eval", "build vgmed", "hydrate"} <= paths
    options = sum(1 for _, parser in TREE for action in parser._actions if not isinstance(action, SKIP))
    print(f"help tree: {len(TREE)} commands, {options} arguments")
    assert options > 150


@pytest.mark.parametrize("path,parser", TREE, ids=[path for path, _ in TREE])
def test_every_command_says_what_it_does_and_every_argument_is_explained(path: str,
                                                                        parser: argparse.ArgumentParser) -> None:
    assert parser.description and parser.description[0].isupper(), f"vgmed {path}: no description"
    undocumented = [action.option_strings or action.dest for action in parser._actions
                    if not isinstance(action, SKIP) and not (action.help or "").strip()]
    assert undocumented == [], f"vgmed {path}: arguments without help"
    silent_defaults = [action.option_strings for action in parser._actions
                       if not isinstance(action, SKIP) and action.option_strings
                       and action.default not in (None, False, argparse.SUPPRESS)
                       and "default" not in (action.help or "").lower()]
    assert silent_defaults == [], f"vgmed {path}: options whose default is not stated"


@pytest.mark.parametrize("path", [path for path, _ in TREE])
def test_every_help_page_prints_its_description_first(path: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        main([*path.split(), "--help"])
    assert done.value.code == 0
    description = dict(TREE)[path].description or ""
    body = out.getvalue().split("\n\n", 1)[1]  # after the usage block
    assert body.startswith(description.split("\n")[0][:40])
