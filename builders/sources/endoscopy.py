"""Endoscopy and laparoscopy sources beyond Kvasir-SEG: HyperKvasir's segmented images (box JSON), PolypGen (six
centres, splittable by centre) and m2caiSeg (RGB label images)."""

from __future__ import annotations

from vgmed_data.builders.entry import Download, Label, SourceEntry
from vgmed_data.builders.readers.box_json import BoxJsonReader
from vgmed_data.builders.readers.image_mask import ImageMaskReader, MaskFile

_POLYP = {"polyp": Label(target="polyp", body_part="colon", kind="lesion")}

HYPERKVASIR_SEG = SourceEntry(
    key="hyperkvasir-seg", name="HyperKvasir segmented images (polyp boxes)",
    homepage="https://datasets.simula.no/hyper-kvasir/",
    citation="Borgli H. et al. HyperKvasir, a comprehensive multi-class image and video dataset for gastrointestinal "
             "endoscopy. Sci Data 7, 283 (2020). doi:10.1038/s41597-020-00622-y",
    license="CC-BY-4.0", license_status="conflicting", license_url=(
        "simula/hyper-kvasir@5ae933bb612b25046b10e86b01660d2d7909ab65:LICENSE.md (the full CC BY 4.0 text, added "
        "in b4815d1); dataset-ninja/hyper-kvasir@5a0aeba0ac314e7c0853efeae3490e4cd9b5890d:src/settings.py "
        "(License.CC_BY_4_0, source_url https://osf.io/dqam3). Conflicts with the same repository's README.md "
        "'Terms of Use': 'released fully open for research and educational purposes', competitions and commercial "
        "use 'need prior written permission'"),
    split_unit="image", modality="ENDOSCOPY", body_part="colon", size="46 MB",
    layout="segmented-images/images/<id>.jpg + segmented-images/masks/<id>.jpg (same name) + "
           "segmented-images/bounding-boxes.json ({<id>: {height, width, bbox: [{label: 'polyp', xmin, ymin, xmax, "
           "ymax}]}}, one box per polyp); pass the segmented-images/ folder",
    layout_confirmed_at="simula/hyper-kvasir@5ae933bb612b25046b10e86b01660d2d7909ab65:README.md ('Segmented "
                        "Images': 1,000 polyp images, a folder of images and a folder of masks with the same file "
                        "name, boxes in a JSON file; 'the bounding box is defined as the outermost pixels of the "
                        "found polyp'); dataset-ninja/hyper-kvasir@5a0aeba0ac314e7c0853efeae3490e4cd9b5890d:"
                        "src/convert.py (segmented-images/{images,masks}, bounding-boxes.json keyed by file name "
                        "without extension, 'bbox' items with xmin/ymin/xmax/ymax)",
    labels=_POLYP,
    reader=BoxJsonReader(boxes_file="bounding-boxes.json", image_template="images/{key}.jpg"),
    downloads=(Download(url="https://datasets.simula.no/downloads/hyper-kvasir/hyper-kvasir-segmented-images.zip",
                        filename="hyper-kvasir-segmented-images.zip"),),
    instructions="unzip hyper-kvasir-segmented-images.zip; --source hyperkvasir-seg=/data/segmented-images",
    notes="Regions are the published boxes (one per polyp, so counts are the source's own); the masks beside them "
          "are not read. The 1,000 segmented images come from HyperKvasir's polyp class (README: 'the segmented "
          "images have duplicates in the images folder of polyps'), as Kvasir-SEG's 1,000 did (same group, same "
          "count, same box-file shape): they are probably the Kvasir-SEG images, but that was not confirmed by "
          "hashing here (no download possible). If `sha256sum images/*` matches Kvasir-SEG's images, Kvasir-SEG "
          "rows can be rebuilt from this release. Its licence is recorded as conflicting, so images are not "
          "published either way.",
)

POLYPGEN = SourceEntry(
    key="polypgen", name="PolypGen (EndoCV2021): multi-centre polyp segmentation, single frames",
    homepage="https://www.synapse.org/#!Synapse:syn26376615/wiki/613312",
    citation="Ali S. et al. A multi-centre polyp detection and segmentation dataset for generalisability "
             "assessment. Sci Data 10, 75 (2023). doi:10.1038/s41597-023-01981-y",
    license="CC-BY-4.0", license_status="secondary", license_url=(
        "dataset-ninja/polypgen@96c793d40bd374d45a964adebd052d3f792ddc48:src/settings.py (License.CC_BY_4_0()); "
        "zekikus/MedSegBench@54fde021831ca89ab770096b9c2bec7de1c91957:medsegbench/info.py ('polypgen': 'CC BY "
        "4.0'). Not read at Synapse (login) or in the Sci Data article"),
    split_unit="image", other_split_units=("centre",), modality="ENDOSCOPY", body_part="colon", size="3 GB",
    layout="PolypGen2021_MultiCenterData_v3/data_C<n>/images_C<n>/<stem>.jpg + data_C<n>/masks_C<n>/<stem>_mask.jpg "
           "(n = 1..6; a C3 image stem may end in '_' that its mask name drops); bbox_C<n>/, bbox_image(s)_C<n>/ and "
           "sequenceData/ are not read; pass PolypGen2021_MultiCenterData_v3/",
    layout_confirmed_at="dataset-ninja/polypgen@96c793d40bd374d45a964adebd052d3f792ddc48:src/convert.py (root "
                        "PolypGen2021_MultiCenterData_v3, images/masks folders, centre tag = first two characters "
                        "'C1'..'C6' of the file name); GitHub code (find_string 'images_C1'): loaders and an integrity "
                        "audit (verify_polypgen_integrity.py) reading data_C<n>/images_C<n>/*.jpg with "
                        "masks_C<n>/<stem>_mask.jpg, and noting C3_EndoCV2021_00489_.jpg -> "
                        "C3_EndoCV2021_00489_mask.jpg",
    labels=_POLYP,
    reader=ImageMaskReader(
        image_globs=("data_C*/images_C*/*.jpg",),
        path_regex=r"^data_(?P<centre>C[1-6])/images_(?P=centre)/(?P<key>.+?)_?\.jpg$", group_units=("centre",),
        masks=(MaskFile(label="polyp", template="data_{centre}/masks_{centre}/{key}_mask.jpg", threshold=127),)),
    instructions="Log in to https://www.synapse.org (free account, accept the data terms), open Synapse:syn26376615, "
                 "download PolypGen2021_MultiCenterData_v3.zip (or `synapse get -r syn26376615` with the "
                 "synapseclient), unzip; --source polypgen=/data/PolypGen2021_MultiCenterData_v3. "
                 "`vgmed build vgmed --split-unit polypgen=centre` keeps each centre in one split",
    notes="The single frames of the six centres (data_C1..C6) only; the video sequences are not read.",
)

# m2caiSeg's RGB label colours (class -> colour). From constantinpape/torch-em@6f71247c0bde24cb050bb25501ca61517ce08b7f:
# torch_em/data/datasets/medical/m2caiseg.py LABEL_MAPS. Another public loader (a marimo notebook found with
# find_string 'm2caiSeg dataset') gives hook as (0, 170, 85) instead of (0, 170, 255): both are declared as hook.
_M2CAI_COLOURS: tuple[tuple[str, str, str, tuple[int, int, int]], ...] = (
    ("grasper", "grasper", "device", (0, 85, 170)), ("bipolar", "bipolar forceps", "device", (0, 85, 255)),
    ("hook", "hook", "device", (0, 170, 255)), ("hook-alt", "hook", "device", (0, 170, 85)),
    ("scissors", "scissors", "device", (0, 255, 85)), ("clipper", "clip applier", "device", (0, 255, 170)),
    ("irrigator", "irrigator", "device", (85, 0, 170)), ("specimen-bag", "specimen bag", "device", (85, 0, 255)),
    ("trocars", "trocar", "device", (170, 85, 85)), ("clip", "clip", "device", (170, 170, 170)),
    ("liver", "liver", "organ", (85, 170, 0)), ("gall-bladder", "gallbladder", "organ", (85, 170, 255)),
    ("fat", "fat", "organ", (85, 255, 0)), ("upper-wall", "abdominal wall", "organ", (85, 255, 170)),
    ("artery", "artery", "organ", (170, 0, 255)), ("intestine", "intestine", "organ", (255, 0, 255)),
    ("bile", "bile", "other", (255, 255, 0)), ("blood", "blood", "other", (255, 0, 0)),
    ("unknown", "unlabelled region", "other", (170, 0, 85)),
)

M2CAISEG = SourceEntry(
    key="m2caiseg", name="m2caiSeg: laparoscopic cholecystectomy frames, organ and instrument masks",
    homepage="https://www.kaggle.com/datasets/salmanmaq/m2caiseg",
    citation="Maqbool S. et al. m2caiSeg: Semantic Segmentation of Laparoscopic Images using Convolutional Neural "
             "Networks. arXiv:2008.10134 (2020)",
    license="CC-BY-NC-4.0", license_status="secondary", license_url=(
        "zekikus/MedSegBench@54fde021831ca89ab770096b9c2bec7de1c91957:medsegbench/info.py ('m2caiseg': 'CC BY-NC "
        "4.0'); the Kaggle page itself was not read"),
    split_unit="image", modality="ENDOSCOPY", body_part="abdomen", size="240 MB",
    layout="m2caiSeg dataset/{train,trainval,test}/images/<id>.jpg + .../groundtruth/<id>_gt.png (RGB, one colour "
           "per class, black = background); trainval/ holds train/ plus the validation frames, so trainval/ and "
           "test/ are read; pass 'm2caiSeg dataset/'",
    layout_confirmed_at="constantinpape/torch-em@6f71247c0bde24cb050bb25501ca61517ce08b7f:torch_em/data/datasets/"
                        "medical/m2caiseg.py ('m2caiSeg dataset' root, <split>/images/*.jpg, <split>/groundtruth/"
                        "*.png, the colour map, validation = trainval minus train); the '<id>_gt.png' name from a "
                        "public preprocessing notebook (find_string 'm2caiSeg dataset', discover_pairs)",
    labels={name: Label(target=target, body_part="abdomen", kind=kind) for name, target, kind, _ in _M2CAI_COLOURS},
    reader=ImageMaskReader(
        image_globs=("trainval/images/*.jpg", "test/images/*.jpg"),
        path_regex=r"^(?P<split>trainval|test)/images/",
        masks=tuple(MaskFile(label=name, template="{split}/groundtruth/{stem}_gt.png", threshold=None,
                             colour=colour) for name, _, _, colour in _M2CAI_COLOURS)),
    instructions="Sign in to Kaggle, download https://www.kaggle.com/datasets/salmanmaq/m2caiseg (or `kaggle "
                 "datasets download salmanmaq/m2caiseg`), unzip; --source m2caiseg='/data/m2caiSeg dataset'. "
                 "Non-commercial licence: images are not published.",
    notes="Every colour in a label image must be one of the declared ones (or black); an image with any other colour "
          "is bad input, counted under --on-bad skip. Frames come from m2cai16 videos whose ids are not in the file "
          "names, so each frame is its own split unit.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (HYPERKVASIR_SEG, POLYPGEN, M2CAISEG,)
