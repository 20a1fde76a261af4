"""Miniatures of the 2D sources added for issue 26, each in its published on-disk layout.

Folder and file names follow what each entry's ``layout_confirmed_at`` cites (repeated beside each writer); pixel
content is synthetic. Every structure is an axis-aligned rectangle given as ``(x1, y1, x2, y2)`` (pixels, x2/y2
exclusive), so a test's expected box is the rectangle itself, written down independently of the builder. JPEG
masks use rectangles on 8-pixel block edges, which thresholding at 127 gives back exactly.

Each writer returns ``(root, expected)``: the folder to pass as ``--source KEY=root`` and
``{source_id: {target: {box, ...}}}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

Rect = tuple[int, int, int, int]
Expected = dict[str, dict[str, set[tuple[float, float, float, float]]]]


def _box(rect: Rect) -> tuple[float, float, float, float]:
    return tuple(float(v) for v in rect)  # type: ignore[return-value]


def _canvas(shape: tuple[int, int], rects: list[Rect], value: int | tuple[int, int, int] = 255,
            base: np.ndarray | None = None) -> np.ndarray:
    out = base.copy() if base is not None else np.zeros(shape if isinstance(value, int) else (*shape, 3), np.uint8)
    for x1, y1, x2, y2 in rects:
        out[y1:y2, x1:x2] = value
    return out


def _noise(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, size=shape, dtype=np.uint8)


def save(path: Path, array: np.ndarray, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


# ---------------------------------------------------------------------------------------------------- endoscopy
def write_hyperkvasir(root: Path) -> tuple[Path, Expected]:
    """simula/hyper-kvasir README (segmented-images/{images,masks}/<id>.jpg, boxes in JSON) and dataset-ninja's
    convert.py (bounding-boxes.json keyed by id, 'bbox' items with xmin..ymax; inclusive maxima: 'outermost
    pixels')."""
    folder = root / "segmented-images"
    polyps = {"cju0qkwl35piu0993l0dewei2": [(16, 8, 40, 32), (48, 24, 60, 44)],
              "cju0qoxqj9q6s0835b43399p4": [(8, 16, 56, 40)]}
    boxes: dict[str, object] = {}
    expected: Expected = {}
    for index, (key, rects) in enumerate(polyps.items()):
        save(folder / "images" / f"{key}.jpg", _noise((48, 64, 3), index), quality=90)
        save(folder / "masks" / f"{key}.jpg", _canvas((48, 64), rects), quality=90)
        boxes[key] = {"height": 48, "width": 64, "bbox": [
            {"label": "polyp", "xmin": x1, "ymin": y1, "xmax": x2 - 1, "ymax": y2 - 1} for x1, y1, x2, y2 in rects]}
        expected[key] = {"polyp": {_box(r) for r in rects}}
    (folder / "bounding-boxes.json").write_text(json.dumps(boxes))
    return folder, expected


def write_polypgen(root: Path) -> tuple[Path, Expected]:
    """dataset-ninja/polypgen convert.py (root PolypGen2021_MultiCenterData_v3) and GitHub loaders/audit:
    data_C<n>/images_C<n>/<stem>.jpg + masks_C<n>/<stem>_mask.jpg; C3_EndoCV2021_00489_.jpg's mask drops the '_'."""
    folder = root / "PolypGen2021_MultiCenterData_v3"
    frames = {("C1", "C1_100H0050"): (8, 8, 32, 24), ("C1", "C1_100H0055"): (24, 16, 56, 40),
              ("C3", "C3_EndoCV2021_00489_"): (16, 16, 48, 40), ("C3", "C3_EndoCV2021_00490"): (8, 24, 40, 40)}
    expected: Expected = {}
    for index, ((centre, stem), rect) in enumerate(frames.items()):
        image = folder / f"data_{centre}" / f"images_{centre}" / f"{stem}.jpg"
        save(image, _noise((48, 64, 3), 40 + index), quality=90)
        save(folder / f"data_{centre}" / f"masks_{centre}" / f"{stem.rstrip('_')}_mask.jpg", _canvas((48, 64), [rect]),
              quality=90)
        (folder / f"data_{centre}" / f"bbox_{centre}").mkdir(exist_ok=True)
        (folder / f"data_{centre}" / f"bbox_{centre}" / f"{stem}.txt").write_text("polyp 8 8 31 23\n")
        expected[image.relative_to(folder).as_posix()] = {"polyp": {_box(rect)}}
    save(folder / "sequenceData" / "negativeOnly" / "seq1_neg" / "C1_seq1_neg_0001.jpg", _noise((48, 64, 3), 9),
          quality=90)
    return folder, expected


M2CAI_LIVER, M2CAI_GRASPER, M2CAI_HOOK_ALT = (85, 170, 0), (0, 85, 170), (0, 170, 85)


def write_m2caiseg(root: Path) -> tuple[Path, Expected]:
    """torch-em m2caiseg.py ('m2caiSeg dataset'/<split>/{images/*.jpg, groundtruth/*.png}, colour map) and a public
    notebook (mask name '<id>_gt.png'); train/ repeats frames of trainval/ and is not read."""
    folder = root / "m2caiSeg dataset"
    frames = {("trainval", "1"): [("liver", (4, 4, 40, 30), M2CAI_LIVER), ("grasper", (44, 10, 60, 40), M2CAI_GRASPER)],
              ("test", "7"): [("hook", (10, 20, 30, 44), M2CAI_HOOK_ALT)]}
    expected: Expected = {}
    for index, ((split, stem), parts) in enumerate(frames.items()):
        image = folder / split / "images" / f"{stem}.jpg"
        save(image, _noise((48, 64, 3), 50 + index), quality=90)
        mask = np.zeros((48, 64, 3), np.uint8)
        for _, rect, colour in parts:
            mask = _canvas((48, 64), [rect], colour, base=mask)
        save(folder / split / "groundtruth" / f"{stem}_gt.png", mask)
        expected[image.relative_to(folder).as_posix()] = {target: {_box(rect)} for target, rect, _ in parts}
    save(folder / "train" / "images" / "1.jpg", _noise((48, 64, 3), 50), quality=90)
    return folder, expected


# ------------------------------------------------------------------------------------------------- ophthalmology
def write_drive(root: Path) -> tuple[Path, Expected]:
    """torch-em drive.py (training/images/*.tif, training/1st_manual/*.gif) and NN_manual1.gif naming."""
    folder = root / "DRIVE"
    expected: Expected = {}
    for index, (number, rects) in enumerate({"21": [(4, 4, 10, 40)], "22": [(20, 6, 56, 12), (20, 30, 56, 36)]}.items()):
        image = folder / "training" / "images" / f"{number}_training.tif"
        save(image, _noise((48, 64, 3), 60 + index))
        save(folder / "training" / "1st_manual" / f"{number}_manual1.gif", _canvas((48, 64), rects))
        save(folder / "training" / "mask" / f"{number}_training_mask.gif", _canvas((48, 64), [(0, 0, 64, 48)]))
        expected[image.relative_to(folder).as_posix()] = {"retinal vessels": {_box(r) for r in rects}}
    save(folder / "test" / "images" / "01_test.tif", _noise((48, 64, 3), 69))  # no public manual: not read
    return folder, expected


def write_chase(root: Path) -> tuple[Path, Expected]:
    """dataset-ninja/chase-db1 convert.py and loaders: Image_NN{L,R}.jpg beside _1stHO.png and _2ndHO.png."""
    folder = root / "CHASEDB1"
    expected: Expected = {}
    for index, (stem, rect) in enumerate({"Image_01L": (8, 8, 24, 40), "Image_01R": (40, 8, 56, 40),
                                          "Image_02L": (16, 16, 48, 24)}.items()):
        save(folder / f"{stem}.jpg", _noise((48, 64, 3), 70 + index), quality=90)
        save(folder / f"{stem}_1stHO.png", _canvas((48, 64), [rect]))
        save(folder / f"{stem}_2ndHO.png", _canvas((48, 64), [(0, 0, 4, 4)]))
        expected[f"{stem}.jpg"] = {"retinal vessels": {_box(rect)}}
    return folder, expected


def write_oct_cystoid(root: Path) -> tuple[Path, Expected]:
    """dataset-ninja convert.py / torch-em intraretinal_cystoid_fluid.py: 2021-training-data-ZA/2021-training-data-ZA/
    <sample>/images/<sample>.jpeg + <sample>/masks/<one mask>."""
    folder = root / "2021-training-data-ZA" / "2021-training-data-ZA"
    expected: Expected = {}
    for index, (sample, mask_name, rect) in enumerate((("511DME_A", "MASK-DME511.png", (16, 8, 40, 24)),
                                                       ("812DME_C", "812DME_C_mask.png", (8, 24, 56, 40)))):
        image = folder / sample / "images" / f"{sample}.jpeg"
        save(image, _noise((48, 64), 80 + index), quality=90)
        save(folder / sample / "masks" / mask_name, _canvas((48, 64), [rect]))
        expected[image.relative_to(folder).as_posix()] = {"intraretinal cystoid fluid": {_box(rect)}}
    return folder, expected


# ---------------------------------------------------------------------------------------------------- microscopy
def write_tnbc(root: Path) -> tuple[Path, Expected]:
    """torch-em tnbc.py: TNBC_NucleiSegmentation/Slide_NN/NN_M.png (RGBA) + GT_NN/NN_M.png; __MACOSX beside."""
    folder = root / "TNBC_NucleiSegmentation"
    expected: Expected = {}
    for index, (slide, tile, rects) in enumerate((("01", 1, [(4, 4, 20, 20), (30, 30, 44, 44)]),
                                                  ("01", 2, [(10, 10, 30, 26)]), ("02", 1, [(20, 4, 40, 24)]))):
        image = folder / f"Slide_{slide}" / f"{slide}_{tile}.png"
        rgba = np.dstack([_noise((48, 48, 3), 90 + index), np.full((48, 48), 255, np.uint8)])
        save(image, rgba)
        save(folder / f"GT_{slide}" / f"{slide}_{tile}.png", _canvas((48, 48), rects))
        expected[image.relative_to(folder).as_posix()] = {"cell nuclei": {_box(r) for r in rects}}
    (root / "__MACOSX").mkdir(exist_ok=True)
    return folder, expected


def write_dsb2018(root: Path) -> tuple[Path, Expected]:
    """torch-em dsb.py and loaders: stage1_train/<id>/images/<id>.png (RGBA) + stage1_train/<id>/masks/<mask id>.png,
    one binary file per nucleus."""
    folder = root / "dsb2018"
    cases = {"0a7d30b252359a10fd298b638b90cb9ada3acced4e0c0e5a3692013f432ee4e9": [(4, 4, 16, 16), (30, 20, 44, 36)],
             "0acd2c223d300ea55d0546797713851e818e5c697d073b7f4091b96ce0f3d2fe": [(10, 24, 40, 40)]}
    expected: Expected = {}
    for index, (case, rects) in enumerate(cases.items()):
        image = folder / "stage1_train" / case / "images" / f"{case}.png"
        save(image, np.dstack([_noise((48, 48, 3), 100 + index), np.full((48, 48), 255, np.uint8)]))
        for number, rect in enumerate(rects):
            save(folder / "stage1_train" / case / "masks" / f"{number:04x}{case[:12]}.png", _canvas((48, 48), [rect]))
        expected[image.relative_to(folder).as_posix()] = {"cell nuclei": {_box(r) for r in rects}}
    return folder, expected


def write_wbc(root: Path) -> tuple[Path, Expected]:
    """zxaoyou/segmentation_WBC: Dataset 1/NNN.bmp + NNN.png (255 nucleus, 128 cytoplasm, 0 background), Dataset 2
    alike; Class Labels of Dataset N.csv beside."""
    folder = root / "segmentation_WBC-fa9c01622f52bccb9aeb8a6f2628f564e377767d"
    expected: Expected = {}
    for index, (dataset, number) in enumerate((("Dataset 1", "001"), ("Dataset 1", "002"), ("Dataset 2", "001"))):
        cell, nucleus = (8 + 4 * index, 8, 40, 40), (16 + 4 * index, 16, 32, 32)
        image = folder / dataset / f"{number}.bmp"
        save(image, _noise((48, 48, 3), 110 + index))
        label = _canvas((48, 48), [cell], 128)
        label = _canvas((48, 48), [nucleus], 255, base=label)
        save(folder / dataset / f"{number}.png", label)
        # the cytoplasm is the cell minus the nucleus: one ring-shaped component whose box is the cell's
        expected[image.relative_to(folder).as_posix()] = {"white blood cell nucleus": {_box(nucleus)},
                                                          "white blood cell cytoplasm": {_box(cell)}}
    for dataset in ("Dataset 1", "Dataset 2"):
        (folder / f"Class Labels of {dataset}.csv").write_text("image ID,class label\n1,2\n2,1\n")
    return folder, expected


def imagescope_xml(classes: dict[str, list[Rect]]) -> str:
    """Aperio ImageScope XML as MoNuSAC ships it: Annotations/Annotation/{Attributes/Attribute@Name,
    Regions/Region/{Attributes, Vertices/Vertex@X,Y}}; each rectangle (x1, y1, x2, y2) becomes a four-vertex polygon
    through its corner pixels, which Pillow fills edges included (pixels x1..x2, y1..y2)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', '<Annotations MicronsPerPixel="0.252000">']
    for number, (name, rects) in enumerate(classes.items(), start=1):
        parts.append(f'<Annotation Id="{number}" Name="" ReadOnly="0" LineColor="65280" Visible="1">')
        parts.append(f'<Attributes><Attribute Name="{name}" Id="0" Value=""/></Attributes><Regions>'
                     '<RegionAttributeHeaders><AttributeHeader Id="9999" Name="Region" ColumnWidth="-1"/>'
                     '</RegionAttributeHeaders>')
        for region, (x1, y1, x2, y2) in enumerate(rects, start=1):
            corners = ((x1, y1), (x2, y1), (x2, y2), (x1, y2))
            parts.append(f'<Region Id="{region}" Type="0" Zoom="1"><Attributes/><Vertices>'
                         + "".join(f'<Vertex X="{x}.000000" Y="{y}.000000" Z="0"/>' for x, y in corners)
                         + "</Vertices></Region>")
        parts.append("</Regions><Plots/></Annotation>")
    parts.append("</Annotations>")
    return "\n".join(parts)


def write_monusac(root: Path) -> tuple[Path, Expected]:
    """The organisers' Mask_generation.ipynb and torch-em monusac.py: MoNuSAC_images_and_annotations/<patient folder
    TCGA-..-DX1.<uuid>>/<sub-image>.{svs,tif,xml}, RGBA tifs."""
    folder = root / "MoNuSAC_images_and_annotations"
    tiles = {("TCGA-55-1594-01Z-00-DX1.8ab3c1f0-54aa-4d8b-9c9c-0a4d8a5b1e11", "TCGA-55-1594-01Z-00-DX1-1"):
             {"Epithelial": [(4, 4, 20, 14), (30, 30, 44, 44)], "Lymphocyte": [(24, 6, 34, 16)]},
             ("TCGA-55-1594-01Z-00-DX1.8ab3c1f0-54aa-4d8b-9c9c-0a4d8a5b1e11", "TCGA-55-1594-01Z-00-DX1-2"):
             {"Macrophages": [(10, 10, 30, 30)]},
             ("TCGA-A2-A0CV-01Z-00-DX1.A1A7D1C5-AE29-4F44-B7C7-4C2D4C6B2F0F", "TCGA-A2-A0CV-01Z-00-DX1-1"):
             {"Neutrophil": [(6, 20, 40, 30)]}}
    expected: Expected = {}
    targets = {"Epithelial": "epithelial nuclei", "Lymphocyte": "lymphocytes", "Macrophages": "macrophages",
               "Neutrophil": "neutrophils"}
    for index, ((patient, tile), classes) in enumerate(tiles.items()):
        image = folder / patient / f"{tile}.tif"
        save(image, np.dstack([_noise((48, 48, 3), 180 + index), np.full((48, 48), 255, np.uint8)]))
        (folder / patient / f"{tile}.svs").write_bytes(b"II*\x00 not read")
        (folder / patient / f"{tile}.xml").write_text(imagescope_xml(classes))
        expected[image.relative_to(folder).as_posix()] = {
            targets[name]: {(float(x1), float(y1), float(x2 + 1), float(y2 + 1)) for x1, y1, x2, y2 in rects}
            for name, rects in classes.items()}
    return folder, expected


# ---------------------------------------------------------------------------------------- chest X-ray, dermoscopy
def write_covid_qu_ex(root: Path) -> tuple[Path, Expected]:
    """torch-em covid_qu_ex.py: 'Infection Segmentation Data/Infection Segmentation Data'/<Split>/<class>/
    {images,lung masks,infection masks}/<name>.png, same name across the three folders."""
    folder = root / "covidqu"
    base = folder / "Infection Segmentation Data" / "Infection Segmentation Data"
    expected: Expected = {}
    for index, (split, name) in enumerate((("Train", "covid_1.png"), ("Test", "covid_1579.png"))):
        lungs, infection = [(4, 8, 28, 56), (36, 8, 60, 56)], (8, 30, 24, 50)
        image = base / split / "COVID-19" / "images" / name
        save(image, _noise((64, 64), 120 + index))
        save(base / split / "COVID-19" / "lung masks" / name, _canvas((64, 64), lungs))
        save(base / split / "COVID-19" / "infection masks" / name, _canvas((64, 64), [infection]))
        expected[image.relative_to(folder).as_posix()] = {"lungs": {_box(r) for r in lungs},
                                                          "COVID-19 infection": {_box(infection)}}
    normal = base / "Train" / "Normal"  # not read (empty infection masks)
    save(normal / "images" / "normal_1.png", _noise((64, 64), 129))
    save(normal / "infection masks" / "normal_1.png", np.zeros((64, 64), np.uint8))
    return folder, expected


def write_isic2016(root: Path) -> tuple[Path, Expected]:
    """The ISIC 2016 data description (ISIC_<7 digits>.jpg; ISIC_<id>_Segmentation.png, 0/255, same size) and
    loaders' folder names ISBI2016_ISIC_Part1_{Training,Test}_{Data,GroundTruth}."""
    folder = root / "isic2016"
    expected: Expected = {}
    for index, (part, image_id, rect) in enumerate((("Training", "ISIC_0000000", (10, 8, 50, 40)),
                                                    ("Test", "ISIC_0000003", (4, 4, 30, 20)))):
        image = folder / f"ISBI2016_ISIC_Part1_{part}_Data" / f"{image_id}.jpg"
        save(image, _noise((48, 64, 3), 130 + index), quality=90)
        save(folder / f"ISBI2016_ISIC_Part1_{part}_GroundTruth" / f"{image_id}_Segmentation.png",
              _canvas((48, 64), [rect]))
        expected[image.relative_to(folder).as_posix()] = {"skin lesion": {_box(rect)}}
    return folder, expected


# -------------------------------------------------------------------------------------------- obstetric ultrasound
def save_mha(path: Path, planes: np.ndarray, *, compressed: bool = False) -> Path:
    """A MetaImage as ITK writes one (header fields and order as SimpleITK 2.x writes them; planes first)."""
    import zlib

    data = planes.astype("<u1" if planes.dtype == np.uint8 else planes.dtype.newbyteorder("<")).tobytes()
    dims = [planes.shape[-1], planes.shape[-2]] + ([planes.shape[0]] if planes.ndim == 3 else [])
    element = {np.dtype(np.uint8): "MET_UCHAR", np.dtype(np.int16): "MET_SHORT"}[planes.dtype]
    body = zlib.compress(data) if compressed else data
    header = [("ObjectType", "Image"), ("NDims", str(len(dims))), ("BinaryData", "True"),
              ("BinaryDataByteOrderMSB", "False"), ("CompressedData", "True" if compressed else "False")]
    header += [("CompressedDataSize", str(len(body)))] if compressed else []
    header += [("ElementSpacing", " ".join("1" for _ in dims)), ("DimSize", " ".join(map(str, dims))),
               ("ElementType", element), ("ElementDataFile", "LOCAL")]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(f"{k} = {v}\n" for k, v in header).encode() + body)
    return path


def _write_ps_fh(folder: Path, names: list[str], seed: int) -> Expected:
    """image_mha/<name>.mha (three equal grey planes) + label_mha/<name>.mha (1 pubic symphysis, 2 fetal head)."""
    expected: Expected = {}
    for index, name in enumerate(names):
        symphysis, head = (8 + 4 * index, 10, 24 + 4 * index, 20), (20, 24, 56, 60)
        grey = _noise((64, 64), seed + index)
        save_mha(folder / "image_mha" / name, np.stack([grey, grey, grey]), compressed=index == 0)
        label = _canvas((64, 64), [symphysis], 1)
        save_mha(folder / "label_mha" / name, _canvas((64, 64), [head], 2, base=label))
        expected[f"image_mha/{name}"] = {"pubic symphysis": {_box(symphysis)}, "fetal head": {_box(head)}}
    return expected


def write_fh_ps_aop(root: Path) -> tuple[Path, Expected]:
    """lanesra10/FH-PS-AOP-grandchallenge README (3x256x256 images, 0/1/2 labels) and loaders: 'Pubic
    Symphysis-Fetal Head Segmentation and Angle of Progression'/{image_mha,label_mha}/<name>.mha."""
    folder = root / "Pubic Symphysis-Fetal Head Segmentation and Angle of Progression"
    return folder, _write_ps_fh(folder, ["00001.mha", "00002.mha"], 140)


def write_psfhs(root: Path) -> tuple[Path, Expected]:
    """torch-em psfhs.py: PSFHS/{image_mha,label_mha}/<name>.mha."""
    folder = root / "PSFHS"
    return folder, _write_ps_fh(folder, ["03744.mha", "03745.mha", "03746.mha"], 150)


# ---------------------------------------------------------------------------------------------------- angiography
def write_chuac(root: Path) -> tuple[Path, Expected]:
    """Medical_Segmentation_Benchmark README/preprocess.py and the DatasetCHUAC loader: Original/N.png +
    Photoshop/angioNok.png ('.PNG' for 11-17), masks larger than the images (here 64x64 masks on 32x32 images). A
    mask rectangle on even pixel edges halves exactly under nearest-neighbour resampling (output pixel j reads mask
    pixel 2j+1), so the expected box is the mask rectangle divided by two."""
    folder = root / "angiography"
    expected: Expected = {}
    for index, (number, suffix, rect) in enumerate((("1", "png", (8, 8, 40, 20)), ("11", "PNG", (20, 30, 60, 60)))):
        image = folder / "Original" / f"{number}.png"
        save(image, _noise((32, 32), 160 + index))
        save(folder / "Photoshop" / f"angio{number}ok.{suffix}", _canvas((64, 64), [rect]))
        save(folder / "Hemotool" / f"angio{number}.png_mask.png", _canvas((64, 64), [(0, 0, 8, 8)]))
        expected[f"Original/{number}.png"] = {"coronary arteries": {tuple(v / 2 for v in rect)}}  # type: ignore[misc]
    return folder, expected


def write_dca1(root: Path) -> tuple[Path, Expected]:
    """torch-em dca1.py and preprocess.py: Database_134_Angiograms/N.pgm + N_gt.pgm in one folder."""
    folder = root / "Database_134_Angiograms"
    expected: Expected = {}
    for index, (number, rects) in enumerate((("1", [(4, 4, 12, 40)]), ("2", [(10, 10, 40, 16), (10, 30, 40, 36)]))):
        save(folder / f"{number}.pgm", _noise((48, 48), 170 + index))
        save(folder / f"{number}_gt.pgm", _canvas((48, 48), rects))
        expected[f"{number}.pgm"] = {"coronary arteries": {_box(r) for r in rects}}
    return folder, expected


WRITERS: dict[str, Callable[[Path], tuple[Path, Expected]]] = {
    "hyperkvasir-seg": write_hyperkvasir, "polypgen": write_polypgen, "m2caiseg": write_m2caiseg,
    "drive": write_drive, "chase-db1": write_chase, "oct-cystoid-fluid": write_oct_cystoid,
    "tnbc-nuclei": write_tnbc, "dsb2018-nuclei": write_dsb2018, "wbc-seg": write_wbc,
    "covid-qu-ex": write_covid_qu_ex, "isic2016-part1": write_isic2016,
    "fh-ps-aop": write_fh_ps_aop, "psfhs": write_psfhs, "chuac": write_chuac, "dca1": write_dca1,
    "monusac": write_monusac,
}
