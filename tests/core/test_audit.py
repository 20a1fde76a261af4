"""The release audit (vgmed_data/audit.py, vgmed_data/imagehash.py): planted duplicates of each kind are found
across splits, sources and datasets, documented transformations count (and those documented as not counting do
not), real-file renders and the demo give no false positive, a planted cross-split patient is found, and the
Hamming index returns exactly what a brute-force comparison returns."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vgmed_data.audit import audit, collect, write_image_hashes
from vgmed_data.cli import main
from vgmed_data.writer import write_config
from vgmed_data.imagehash import NEAR_THRESHOLD, HammingIndex, perceptual_hash
from vgmed_data.manifest import IMAGE_HASHES_NAME
from vgmed_data.schema import GroundingSample, Provenance, make_sample_id


def real_renders() -> dict[str, Image.Image]:
    """Distinct real images: pydicom's CT, MR and liver slices and nibabel's volumes (middle slice per plane)."""
    import nibabel
    from pydicom.data import get_testdata_file

    from vgmed_data.imaging.dicom import read_dicom
    from vgmed_data.imaging.nifti import read_nifti
    from vgmed_data.imaging.render import volume_window
    from vgmed_data.imaging.windowing import apply_window

    images = {"CT_small": read_dicom(get_testdata_file("CT_small.dcm", download=False)).render(window="soft_tissue")}
    for name in ("MR_small.dcm", "liver_1frame.dcm", "JPEG2000.dcm"):
        images[name] = read_dicom(get_testdata_file(name, download=False)).render()
    data = Path(nibabel.__file__).parent / "tests" / "data"
    for name in ("anatomical.nii", "example4d.nii.gz", "reoriented_anat_moved.nii", "example_nifti2.nii.gz"):
        volume = read_nifti(data / name)
        window = volume_window(volume.data)
        for plane in ("axial", "coronal", "sagittal"):
            pixels = volume.slice(volume.num_slices(plane) // 2, plane=plane)
            images[f"{name}#{plane}"] = Image.fromarray(apply_window(pixels, window), mode="L")
    return images


def sample(image: Image.Image, *, name: str, split: str, source: str = "src-a", patient: str | None = None
           ) -> GroundingSample:
    return GroundingSample(
        id=make_sample_id(source, name, "localization"), image=image, question="Where is the region?",
        question_type="localization", answer="centre", target="region", boxes=[[0.0, 0.0, 4.0, 4.0]],
        box_labels=["region"], provenance=Provenance(
            modality="CT", body_part="chest", source=source, source_id=name, license="CC-BY-4.0",
            redistributable=True, patient_id=patient or f"p-{name}", split=split, metadata={"source_path": name}))


def folder_of(path: Path, samples: list[GroundingSample]) -> Path:
    write_config(path, samples, config="vgmed", shard_rows=4)
    return path


def _jpeg(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("L").save(buffer, "JPEG", quality=70)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def _crop(fraction: float):  # noqa: ANN202
    def crop(image: Image.Image) -> Image.Image:
        dx, dy = round(image.width * fraction), round(image.height * fraction)
        return image.crop((dx, dy, image.width - dx, image.height - dy))
    return crop


def _window(name: str):  # noqa: ANN202
    def window(_image: Image.Image) -> Image.Image:
        from pydicom.data import get_testdata_file

        from vgmed_data.imaging.dicom import read_dicom

        return read_dicom(get_testdata_file("CT_small.dcm", download=False)).render(window=name)
    return window


# transformation -> (applied to the CT and liver slices, counted as a near duplicate?) - docs/publishing.md's table
TRANSFORMATIONS = {
    "JPEG q=70": (_jpeg, True),
    "half size": (lambda image: image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR), True),
    "another window (bone, lung)": (_window("bone"), True),
    "crop 2% each side": (_crop(0.02), True),
    "flip left-right": (lambda image: image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), True),
    "flip up-down": (lambda image: image.transpose(Image.Transpose.FLIP_TOP_BOTTOM), True),
    "crop 10% each side": (_crop(0.10), False),
}


@pytest.fixture(scope="module")
def renders() -> dict[str, Image.Image]:
    return real_renders()


@pytest.mark.parametrize("name", list(TRANSFORMATIONS))
def test_each_documented_transformation_is_found_or_not_across_splits(name: str, renders: dict[str, Image.Image],
                                                                      tmp_path: Path) -> None:
    change, counted = TRANSFORMATIONS[name]
    originals = ["CT_small", "liver_1frame.dcm"] if "window" not in name else ["CT_small"]
    samples = [sample(renders[key], name=key, split="train") for key in originals]
    samples += [sample(change(renders[key]), name=f"{key}-changed", split="test") for key in originals]
    samples += [sample(renders["MR_small.dcm"], name="mr", split="test")]  # an unrelated image in the other split
    result = audit(folder_of(tmp_path / "ds", samples), name="ds")
    found = {(result.dataset.uses[p.first[1]][0].row, result.dataset.uses[p.second[1]][0].row)
             for p in result.pairs if p.kind == "near" and "cross-split" in p.scope}
    expected = {tuple(sorted((s.id, t.id))) for s, t in zip(samples, samples[len(originals):2 * len(originals)])}
    assert {tuple(sorted(pair)) for pair in found} == (expected if counted else set())
    assert result.leaks["cross-split near duplicates"] == (len(originals) if counted else 0)


def test_exact_duplicates_across_splits_sources_and_datasets(renders: dict[str, Image.Image], tmp_path: Path) -> None:
    ct, liver, mr = renders["CT_small"], renders["liver_1frame.dcm"], renders["MR_small.dcm"]
    dataset = folder_of(tmp_path / "ds", [
        sample(ct, name="ct-train", split="train"), sample(ct, name="ct-test", split="test"),  # cross-split
        sample(liver, name="liver-a", split="train", source="src-a"),
        sample(liver, name="liver-b", split="train", source="src-b"),  # the same image under two names
        sample(mr, name="mr", split="test")])
    benchmark = folder_of(tmp_path / "bench", [sample(mr, name="bench-mr", split="test", source="vqa-rad")])
    result = audit(dataset, name="ds", against=[(benchmark, "bench")])
    exact = {(p.scope, p.first[1]) for p in result.pairs if p.kind == "exact"}
    rows = {scope: sorted(u.row for u in result.sets()["ds"].uses[key]) for scope, key in exact}
    assert rows[("cross-split",)] == sorted([make_sample_id("src-a", "ct-train", "localization"),
                                             make_sample_id("src-a", "ct-test", "localization")])
    assert rows[("cross-source",)] == sorted([make_sample_id("src-a", "liver-a", "localization"),
                                              make_sample_id("src-b", "liver-b", "localization")])
    assert rows[("against:bench",)] == [make_sample_id("src-a", "mr", "localization")]
    assert result.leaks == {"cross-split exact duplicates": 1, "cross-split near duplicates": 0,
                            "patients in several splits": 0}


def test_near_duplicate_against_another_dataset_and_re_encoded_png_is_exact(renders: dict[str, Image.Image],
                                                                            tmp_path: Path) -> None:
    ct = renders["CT_small"]
    dataset = folder_of(tmp_path / "ds", [sample(ct, name="ct", split="train")])
    half = ct.resize((64, 64), Image.Resampling.BILINEAR)
    other = folder_of(tmp_path / "other", [sample(half, name="ct-half", split="test", source="pathvqa"),
                                           sample(renders["liver_1frame.dcm"], name="liver", split="test")])
    result = audit(dataset, name="ds", against=[(other, "other")])
    assert [(p.kind, p.scope) for p in result.pairs] == [("near", ("against:other",))]


def test_no_false_positive_over_real_renders_and_the_demo(renders: dict[str, Image.Image], tmp_path: Path) -> None:
    from vgmed_data.demo import demo_samples

    names = sorted(renders)
    samples = [sample(renders[name], name=name, split=("train", "test", "validation")[i % 3],
                      source=("src-a", "src-b")[i % 2]) for i, name in enumerate(names)]
    result = audit(folder_of(tmp_path / "renders", samples), name="renders")
    assert len(result.dataset.uses) == len(names) and result.pairs == [] and not any(result.leaks.values())
    demo = folder_of(tmp_path / "demo", demo_samples())
    result = audit(demo, name="demo", against=[(tmp_path / "renders", "renders")])
    # the demo's two windows of one CT slice are near duplicates inside one split of one source: not a finding;
    # its images are renders of the same files as the corpus above, so against it only those may match
    assert not any(result.leaks.values())
    assert all(p.scope == ("against:renders",) for p in result.pairs)


def test_a_planted_cross_split_patient_is_found(renders: dict[str, Image.Image], tmp_path: Path) -> None:
    folder = folder_of(tmp_path / "ds", [
        sample(renders["CT_small"], name="a", split="train", patient="P-shared"),
        sample(renders["liver_1frame.dcm"], name="b", split="test", patient="P-shared"),
        sample(renders["MR_small.dcm"], name="c", split="test", patient="P-other")])
    result = audit(folder, name="ds")
    assert result.patient_overlap == {"src-a/P-shared": ["test", "train"]}
    assert result.leaks == {"cross-split exact duplicates": 0, "cross-split near duplicates": 0,
                            "patients in several splits": 1}


def test_stored_hashes_are_read_not_recomputed(renders: dict[str, Image.Image], tmp_path: Path) -> None:
    folder = folder_of(tmp_path / "ds", [sample(renders["CT_small"], name="a", split="train"),
                                         sample(renders["MR_small.dcm"], name="b", split="test")])
    path = write_image_hashes(folder)
    stored = json.loads(path.read_text())
    assert stored["images"] == {k: v.to_text() for k, v in collect(folder, name="x").hashes.items()}
    assert audit(folder, name="ds").pairs == []
    first, second = sorted(stored["images"])
    stored["images"][second] = stored["images"][first]  # a planted hash: only a reader of the file sees it
    (folder / IMAGE_HASHES_NAME).write_text(json.dumps(stored))
    assert [(p.kind, p.distance) for p in audit(folder, name="ds").pairs] == [("near", 0)]


def test_hamming_index_equals_brute_force() -> None:
    rng = np.random.default_rng(5)
    base = rng.integers(0, 2 ** 63, size=400, dtype=np.int64).astype(np.uint64)
    flips = [rng.choice(64, size=int(rng.integers(0, 14)), replace=False) for _ in range(150)]
    near = np.array([int(base[i]) ^ sum(1 << int(b) for b in bits) for i, bits in enumerate(flips)], dtype=np.uint64)
    hashes = np.concatenate([base, near])
    index = HammingIndex(hashes, threshold=NEAR_THRESHOLD)
    query, position, distance = index.search(hashes)
    got = {(int(q), int(p), int(d)) for q, p, d in zip(query, position, distance)}
    want = {(i, j, bin(int(a) ^ int(b)).count("1")) for (i, a), (j, b) in itertools.product(enumerate(hashes), repeat=2)
            if bin(int(a) ^ int(b)).count("1") <= NEAR_THRESHOLD}
    assert got == want and len(want) > len(hashes)  # the planted pairs within the threshold are among them


def test_mirror_hashes_are_the_hashes_of_the_mirrored_image(renders: dict[str, Image.Image]) -> None:
    ct = renders["CT_small"]
    plain = perceptual_hash(ct)
    assert perceptual_hash(ct.transpose(Image.Transpose.FLIP_LEFT_RIGHT)).plain == plain.mirrored_lr
    assert perceptual_hash(ct.transpose(Image.Transpose.FLIP_TOP_BOTTOM)).plain == plain.mirrored_ud


def test_cli_writes_json_table_and_contact_sheet_and_exits_1_on_leaks(renders: dict[str, Image.Image],
                                                                      tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = folder_of(tmp_path / "ds", [sample(renders["CT_small"], name="a", split="train"),
                                         sample(_jpeg(renders["CT_small"]), name="b", split="test")])
    assert main(["audit", str(folder), "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "| cross-split near duplicates | 1 |" in out
    data = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert data["leaks"]["cross-split near duplicates"] == 1 and data["near_threshold_bits"] == NEAR_THRESHOLD
    sheet = (tmp_path / "out" / "contact_sheet.html").read_text()
    assert sheet.count("<img src='data:image/png;base64,") == 2
    assert (tmp_path / "out" / "audit.md").read_text() in out
    assert main(["audit", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_against_the_official_release_format_imported_with_vgmed_import(renders: dict[str, Image.Image],
                                                                        tmp_path: Path) -> None:
    """A benchmark in the official VGMED JSONL layout, brought in with `vgmed import vgmed-jsonl`: its images
    (one of them also in our train split, another a JPEG copy of ours) are found; the rest are not."""
    ct, mr, liver = renders["CT_small"], renders["MR_small.dcm"], renders["liver_1frame.dcm"]
    theirs = folder_of(tmp_path / "theirs", [sample(ct, name="ct", split="test", source="official"),
                                             sample(_jpeg(liver), name="liver", split="test", source="official")])
    assert main(["export", "vgmed-jsonl", str(theirs), "--out", str(tmp_path / "release.jsonl"),
                 "--images-dir", str(tmp_path / "release")]) == 0
    assert main(["import", "vgmed-jsonl", str(tmp_path / "release.jsonl"), "--images", str(tmp_path / "release"),
                 "--out", str(tmp_path / "imported")]) == 0
    ours = folder_of(tmp_path / "ours", [sample(ct, name="ct", split="train"), sample(liver, name="liver", split="train"),
                                         sample(mr, name="mr", split="train")])
    result = audit(ours, name="ours", against=[(tmp_path / "imported", "official")])
    found = sorted((p.kind, result.dataset.uses[p.first[1]][0].row) for p in result.pairs)
    assert found == sorted([("exact", make_sample_id("src-a", "ct", "localization")),
                            ("near", make_sample_id("src-a", "liver", "localization"))])


def test_sequences_images_are_audited_too(renders: dict[str, Image.Image], tmp_path: Path) -> None:
    from vgmed_data.schema import SequenceImage, SequenceSample

    folder = folder_of(tmp_path / "ds", [sample(renders["CT_small"], name="ct", split="train")])
    write_config(folder, [SequenceSample(
        id="seq-1", images=[SequenceImage(image=renders["MR_small.dcm"], source="src-a", source_id="mr"),
                            SequenceImage(image=renders["CT_small"], source="src-a", source_id="ct")],
        task="referring", question="Where is the region?", answer="image 2", target="region",
        answer_image_index=1, answer_box=[0.0, 0.0, 4.0, 4.0],
        provenance=Provenance(modality="CT", body_part="chest", source="src-a", source_id="seq", license="CC-BY-4.0",
                              redistributable=True, patient_id="p-seq", split="test",
                              metadata={"source_paths": ["mr", "ct"]}))], config="sequences")
    result = audit(folder, name="ds")
    assert [(p.kind, p.scope) for p in result.pairs] == [("exact", ("cross-split",))]
    uses = result.dataset.uses[result.pairs[0].first[1]]
    assert sorted((u.config, u.split, u.index) for u in uses) == [("sequences", "test", 1), ("vgmed", "train", None)]
