"""Skip categories are a field of the error (``VgmedError.reason``), set where it is raised; nothing reads them
from the message text (the builders' counts used to search the text for words such as "size" or "label map")."""

from __future__ import annotations

from vgmed_data.builders.policy import skip_reason
from vgmed_data.errors import (FileFormatError, GeometryError, InvalidInputError, SkipReason, SourceNotFoundError,
                               VgmedError)


def test_the_reason_is_the_field_not_the_text() -> None:
    assert skip_reason(FileFormatError("mask size (3, 4) differs from its image's")) == "corrupt file"
    assert skip_reason(FileFormatError("the header", reason=SkipReason.SHAPE_MISMATCH)) == "shape mismatch"
    assert skip_reason(InvalidInputError("label 'x' is not in the label map")) == "InvalidInputError"
    assert skip_reason(GeometryError("mask is empty")) == "GeometryError"
    assert skip_reason(SourceNotFoundError("gone")) == "missing file"
    assert skip_reason(VgmedError("still carries identifying data")) == "VgmedError"


def test_reader_reasons_keep_missing_files_and_unknown_labels() -> None:
    assert skip_reason(SourceNotFoundError("gone"), other="bad box") == "missing file"
    assert skip_reason(InvalidInputError("x", reason=SkipReason.LABEL_NOT_IN_MAP), other="bad box") == (
        "label not in map")
    assert skip_reason(InvalidInputError("the label map says"), other="bad box") == "bad box"


def test_an_unknown_label_is_raised_with_its_reason() -> None:
    from vgmed_data.builders.sources import get_entry

    try:
        get_entry("msd-spleen").label("no-such-label")
    except InvalidInputError as error:
        assert error.reason == SkipReason.LABEL_NOT_IN_MAP
    else:  # pragma: no cover - the label map is fixed
        raise AssertionError("an unknown label was accepted")
