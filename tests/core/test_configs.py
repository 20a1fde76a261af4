"""The configuration specs (vgmed_data/configs.py): each spec names columns its features have, with the right
types, and reads stored rows (what write_config stores) the way the row's own sample describes them."""

from __future__ import annotations

import pytest
from datasets import Image, List, Value

from vgmed_data.configs import CONFIGS, dataset_config, default_config, features_for
from vgmed_data.errors import SchemaError
from vgmed_data.rowchecks import Decoding
from vgmed_data.schema import SEQUENCES_FEATURES, VGMED_FEATURES

from tests.core.test_dataset_folder import grounding, sequence


@pytest.mark.parametrize("name", list(CONFIGS))
def test_spec_columns_are_columns_of_its_features(name: str) -> None:
    spec = CONFIGS[name]
    assert spec.name == name
    image = spec.features[spec.image_column]
    assert isinstance(image, List) == spec.multi_image
    assert isinstance(image.feature if spec.multi_image else image, Image)
    if spec.mask_column is not None:
        assert isinstance(spec.features[spec.mask_column], Image)
    assert spec.origin_column in spec.features and "patient_id" in spec.features and "split" in spec.features
    assert isinstance(spec.features["answer"], Value)


def test_the_registry_names_both_configurations_and_refuses_others() -> None:
    assert features_for("vgmed") is VGMED_FEATURES and features_for("sequences") is SEQUENCES_FEATURES
    assert default_config(["sequences", "vgmed"]) == "vgmed" and default_config(["sequences"]) == "sequences"
    assert default_config([]) is None
    with pytest.raises(SchemaError, match="use one of: vgmed, sequences"):
        dataset_config("vgmed2")


def test_a_stored_grounding_row_read_through_its_spec() -> None:
    sample = grounding(1)
    row = sample.to_row()
    spec = dataset_config("vgmed")
    assert spec.images(row) == [(None, {"bytes": row["image"]["bytes"], "path": None})]
    assert spec.origins(row) == ("dicom-deidentified",)
    assert spec.image_columns == ("image", "mask")
    assert spec.fingerprints({"image_sha256": "ab"}) == ["ab"] and spec.fingerprints({}) == [None]
    assert spec.has_pointers(row, {"source_path": "a/b.png"}) and not spec.has_pointers(row, {})
    assert spec.answer == "text"


def test_a_stored_sequence_row_read_through_its_spec() -> None:
    sample = sequence(1)
    row = sample.to_row()
    spec = dataset_config("sequences")
    images = spec.images(row)
    assert [index for index, _ in images] == [0, 1, 2]
    assert [cell["bytes"] for _, cell in images] == [item.image for item in sample.images]  # type: ignore[index]
    assert spec.origins(row) == ("raster", "raster", "raster")
    assert spec.image_columns == ("images",)
    assert spec.fingerprints({"image_sha256s": ["a", None, "c"]}) == ["a", None, "c"]
    assert spec.has_pointers(row, {"source_paths": ["x", "y", "z"]})
    assert not spec.has_pointers(row, {"source_paths": ["x", "y"]})
    assert spec.answer == "box"


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_row_rule_accepts_a_good_row_and_names_a_broken_one(name: str) -> None:
    spec = dataset_config(name)
    row = (grounding(2) if name == "vgmed" else sequence(2)).to_row()
    problems: list[str] = []
    spec.check_row(row, problems.append, Decoding())
    assert problems == []
    broken = dict(row, **({"question_type": "guess"} if name == "vgmed" else {"task": "guess"}))
    spec.check_row(broken, problems.append, Decoding())
    assert len(problems) == 1 and "'guess' is not one of" in problems[0]


def test_no_module_tests_a_configuration_by_name() -> None:
    """Code asks the spec (`dataset_config(name).multi_image`, `.answer`, ...) instead of comparing the name with
    "vgmed" or "sequences": a new configuration then needs no hunt through the package."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found = []
    for folder in ("vgmed_data", "builders", "annotation", "eval"):
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if not isinstance(node, ast.Compare) or "argv" in ast.unparse(node):  # the program's own name
                    continue
                if any(isinstance(n, ast.Constant) and n.value in CONFIGS for n in ast.walk(node)):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    assert found == []
