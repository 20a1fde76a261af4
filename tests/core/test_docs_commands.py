"""Every command and snippet in README.md and docs/ names things that exist (issue 32 item 4).

* Each ``vgmed ...`` line of a ```bash block is parsed by the real ``vgmed`` parser (the command's own module
  registers its options), so a documented option, sub-command or choice that does not exist fails here.
* Each ``python``/``bash`` script and file under ``bench/``, ``scripts/`` or ``docs/`` that a doc names exists.
* Each ```python block compiles, and every ``from vgmed_data... import name`` in it resolves.

Running the commands is the other tests' job (the demo, the build/publish/evaluate pipeline in tests/e2e, the
source miniatures); lines that need a GPU, real weights or the network are parsed here like every other line.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import io
import re
import shlex
from pathlib import Path

import pytest

from vgmed_data.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
SHELL_STOP = {"|", "||", "&&", ";", ">", ">>", "2>", "2>&1", "&"}
NAMED_FILE = re.compile(r"(?<![\w/.-])((?:bench|scripts|docs)/[\w./-]+\.(?:py|sh|md))")
OTHER_PROJECTS = {"docs/en/Development.md"}  # VLMEvalKit's own docs, cited by their path in that repository


def _blocks(language: str) -> list[tuple[str, str]]:
    return [(f"{doc.relative_to(ROOT)}#{n}", match.group(2)) for doc in DOCS
            for n, match in enumerate(FENCE.finditer(doc.read_text())) if match.group(1) == language]


def _logical_lines(script: str) -> list[str]:
    return [line.strip() for line in script.replace("\\\n", " ").splitlines()]


def _vgmed_lines() -> list[tuple[str, list[str]]]:
    found = []
    for where, script in _blocks("bash"):
        for line in _logical_lines(script):
            line = re.sub(r"^(\S*/)?(\.venv/bin/)?", "", line) if line.startswith((".venv/bin/vgmed", "vgmed ")) \
                else line
            if not line.startswith("vgmed "):
                continue
            words = shlex.split(line, comments=True)
            cut = next((i for i, word in enumerate(words) if word in SHELL_STOP), len(words))
            found.append((where, _synopsis(words[1:cut])))
    return found


def _synopsis(words: list[str]) -> list[str]:
    """Synopsis notation as one concrete command: ``[--opt X]`` -> ``--opt X``, ``a|b`` (a value) -> ``a``, ``N`` and
    shell variables (``$SLURM_ARRAY_TASK_ID``, ``$i``) -> ``1``; ``...``
    (arguments left out) and ``[--source KEY=PATH ...]`` repetitions are kept as ``...``."""
    concrete = []
    for word in words:
        word = re.sub(r"\$\{?\w+\}?", "1", word.strip("[]"))  # a shell variable: a number in every doc so far
        if word in ("N", "K", "I/N"):  # a number's placeholder
            word = {"I/N": "0/2"}.get(word, "1")
        elif word.endswith("..."):
            word = "..."
        elif "|" in word and not word.startswith("-"):
            word = word.split("|")[0]
        if word:
            concrete.append(word)
    return concrete


VGMED_LINES = _vgmed_lines()


def test_the_docs_hold_enough_commands_to_be_worth_checking() -> None:
    commands = {words[0] for _, words in VGMED_LINES if words}
    print(f"docs: {len(VGMED_LINES)} vgmed command lines, {len(_blocks('python'))} python snippets, "
          f"{len(_blocks('bash'))} bash blocks")
    assert len(VGMED_LINES) > 40 and {"build", "eval", "publish", "annotate", "sources"} <= commands


@pytest.mark.parametrize("where,words", VGMED_LINES, ids=[f"{w}:{' '.join(a[:3])}" for w, a in VGMED_LINES])
def test_every_documented_vgmed_command_parses(where: str, words: list[str]) -> None:
    command = next((word for word in words if not word.startswith("-")), None)
    assert command is None or command in COMMANDS, f"{where}: unknown command in `vgmed {' '.join(words)}`"
    parser = build_parser(command)
    if "..." in words:  # arguments left out: every option that is written must exist in its sub-command
        _check_options_exist(parser, words, where=where)
        return
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(words)
        except SystemExit as done:
            assert done.code == 0, f"{where}: `vgmed {' '.join(words)}`: {errors.getvalue().strip()}"


def _check_options_exist(parser: argparse.ArgumentParser, words: list[str], *, where: str) -> None:
    from vgmed_data.cli import subcommands

    for word in words:
        children = subcommands(parser)
        if word in children:
            parser = children[word][1]
        elif word.startswith("--"):
            assert word.split("=")[0] in parser._option_string_actions, f"{where}: no option {word} in {parser.prog}"


def test_every_file_a_doc_names_exists() -> None:
    missing = [f"{doc.relative_to(ROOT)}: {name}" for doc in DOCS for name in NAMED_FILE.findall(doc.read_text())
               if not (ROOT / name).exists() and name not in OTHER_PROJECTS]
    assert missing == []


@pytest.mark.parametrize("where,code", _blocks("python"), ids=[w for w, _ in _blocks("python")])
def test_every_python_snippet_compiles_and_imports_what_exists(where: str, code: str) -> None:
    tree = ast.parse(code, filename=where)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vgmed_data"):
            module = importlib.import_module(node.module)
            absent = [alias.name for alias in node.names if not hasattr(module, alias.name)]
            assert absent == [], f"{where}: {node.module} has no {absent}"


def test_parser_errors_are_caught_by_this_check() -> None:
    """The check itself can fail: a misspelt option does not parse."""
    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit) as done:
        build_parser("eval").parse_args(["eval", "run", "--model", "m", "--dataset", "d", "--out", "o", "--nope"])
    assert done.value.code == 2
    assert isinstance(build_parser("eval"), argparse.ArgumentParser)
