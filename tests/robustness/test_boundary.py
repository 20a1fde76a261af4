"""The CLI's error boundary: a bug is one line and exit 70 (the corpus asserts no input reaches it), an
``OSError`` that names its file is one line and exit 2, a library warning is one line, ``--debug`` shows the
traceback."""

from __future__ import annotations

import pytest

from vgmed_data import cli

TEST_COMMANDS = {name: (f"test command {name}", f"tests.robustness.boundary_commands:register_{name}")
                 for name in ("bug", "disk", "full", "warning")}


@pytest.fixture(autouse=True)
def _test_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, entry in TEST_COMMANDS.items():
        monkeypatch.setitem(cli.COMMANDS, name, entry)


def test_a_bug_is_one_line_and_exit_70(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bug"]) == cli.INTERNAL_ERROR_EXIT == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error (KeyError" in err and "--debug" in err


def test_debug_shows_the_traceback() -> None:
    with pytest.raises(KeyError):
        cli.main(["--debug", "bug"])


def test_an_os_error_naming_a_file_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["disk"]) == 2
    err = capsys.readouterr().err
    assert err == ("vgmed: error: /data/out/shard.parquet: No space left on device. "
                   "Fix: check the path, its permissions and the free disk space\n")


def test_a_full_disk_without_a_file_name_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["full"]) == 2
    assert capsys.readouterr().err.startswith("vgmed: error: No space left on device. Fix: ")


def test_a_warning_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["warning"]) == 0
    assert capsys.readouterr().err == "vgmed: warning: a library speaking | over two lines (UserWarning)\n"
