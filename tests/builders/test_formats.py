"""The format catalogue (builders/formats.py) is the one home of ``vgmed import`` and ``vgmed export``: their
sub-commands are exactly its entries, built through the real parsers, and a name declared twice is refused."""

from __future__ import annotations

import pytest

from vgmed_data.builders.formats import DatasetFormat, registry_of, exporters, importers
from vgmed_data.cli import build_parser, subcommands
from vgmed_data.errors import InvalidInputError


@pytest.mark.parametrize("command,catalogue", [("import", importers), ("export", exporters)])
def test_the_commands_are_the_catalogue(command: str, catalogue) -> None:  # noqa: ANN001
    formats = subcommands(subcommands(build_parser(command))[command][1])
    assert list(formats) == list(catalogue())
    assert {"import": {"vgmed-jsonl", "medsg"}, "export": {"vgmed-jsonl", "medsg", "lmms-eval", "vlmevalkit"}}[
        command] == set(formats)


def test_a_format_declared_twice_or_doing_nothing_is_refused() -> None:
    one = DatasetFormat(name="x", summary="x", importer="m:f")
    with pytest.raises(InvalidInputError, match="declared twice"):
        registry_of((one, one))
    with pytest.raises(InvalidInputError, match="neither imports nor exports"):
        DatasetFormat(name="y", summary="y")
