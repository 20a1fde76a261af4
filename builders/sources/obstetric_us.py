"""Obstetric ultrasound. Intrapartum transperineal ultrasound: pubic symphysis and fetal head (FH-PS-AOP 2023
training set, PSFHS). Fetal head biometry planes with the head ellipse drawn as an outline (HC18).

Both are 256x256 MetaImages (``.mha``, read by :mod:`vgmed_data.imaging.metaimage`): the image as three equal grey
planes, the label as one plane with 1 = pubic symphysis, 2 = fetal head, 0 = background.
"""

from __future__ import annotations

from vgmed_data.builders.entry import Download, Label, SourceEntry
from vgmed_data.builders.readers.image_mask import ImageMaskReader, MaskFile

_LABELS = {"pubic-symphysis": Label(target="pubic symphysis", body_part="pelvis"),
           "fetal-head": Label(target="fetal head", body_part="pelvis")}
_LABEL_VALUES = "lanesra10/FH-PS-AOP-grandchallenge@ad97057b2ea1e5686117775c26006d6e9be7d644:README.md"


def _reader(label_dir: str) -> ImageMaskReader:
    return ImageMaskReader(image_globs=("image_mha/*.mha",), masks=(
        MaskFile(label="pubic-symphysis", template=f"{label_dir}/{{name}}", threshold=None, value=1),
        MaskFile(label="fetal-head", template=f"{label_dir}/{{name}}", threshold=None, value=2)))


FH_PS_AOP = SourceEntry(
    key="fh-ps-aop", name="FH-PS-AOP 2023: pubic symphysis and fetal head on intrapartum ultrasound (training set)",
    homepage="https://ps-fh-aop-2023.grand-challenge.org/",
    citation="Lu Y. et al. The JNU-IFM dataset for segmenting pubic symphysis-fetal head. Data Brief 41, 107904 "
             "(2022). doi:10.1016/j.dib.2022.107904",
    license="CC-BY-NC-4.0", license_status="secondary", license_url=(
        "zekikus/MedSegBench@54fde021831ca89ab770096b9c2bec7de1c91957:medsegbench/info.py ('fhpsaop': 'CC BY-NC "
        "4.0', reference 10.5281/zenodo.7851338); the Zenodo record's licence field was not read here"),
    split_unit="image", modality="US", body_part="pelvis", size="150 MB",
    layout="Pubic Symphysis-Fetal Head Segmentation and Angle of Progression/image_mha/<name>.mha (3x256x256) + "
           ".../label_mha/<name>.mha (256x256; 1 pubic symphysis, 2 fetal head); pass the "
           "'Pubic Symphysis-Fetal Head Segmentation and Angle of Progression' folder",
    layout_confirmed_at=f"{_LABEL_VALUES} (Zenodo record 7851339; images 3x256x256, ground truth 256x256 with 0 "
                        "background, 1 pubic symphysis, 2 fetal head); GitHub loaders (code search 'FHPSAOPDataset'): "
                        "'Pubic Symphysis-Fetal Head Segmentation and Angle of Progression/{image_mha,label_mha}/"
                        "*.mha', image and label lists paired in sorted order",
    labels=_LABELS, reader=_reader("label_mha"),
    instructions="Download the training set from https://zenodo.org/records/7851339 (files listed on the record), "
                 "unzip; --source fh-ps-aop='/data/Pubic Symphysis-Fetal Head Segmentation and Angle of "
                 "Progression'. Non-commercial licence: images are not published.",
    notes="Image and label share a file name (the loaders pair sorted lists; PSFHS, the group's later release, "
          "names them the same). No patient ids are published, so each image is its own split unit; the angle of "
          "progression is not read.",
)

PSFHS = SourceEntry(
    key="psfhs", name="PSFHS: intrapartum ultrasound, pubic symphysis and fetal head (Sci Data 2024)",
    homepage="https://zenodo.org/records/10969427",
    citation="Chen G. et al. PSFHS: Intrapartum ultrasound image dataset for AI-based segmentation of pubic "
             "symphysis and fetal head. Sci Data (2024). doi:10.1038/s41597-024-03266-4",
    license="LicenseRef-PSFHS-unread", license_status="unknown", license_url=(
        "https://zenodo.org/records/10969427 (the record's licence was not read; no loader or catalogue read here "
        "states one)"),
    split_unit="image", modality="US", body_part="pelvis", size="50 MB",
    layout="PSFHS/image_mha/<name>.mha (3x256x256) + PSFHS/label_mha/<name>.mha (same name; 1 pubic symphysis, "
           "2 fetal head); pass PSFHS/",
    layout_confirmed_at="constantinpape/torch-em@6f71247c0bde24cb050bb25501ca61517ce08b7f:torch_em/data/datasets/"
                        "medical/psfhs.py (PSFHS.zip -> PSFHS/{image_mha,label_mha}/*.mha, URL and sha256); a public "
                        "preparation script (code search 'PSFHS', ultrabench psfhs) reading label_mha/<same name> and "
                        f"3-plane images; label values as FH-PS-AOP's ({_LABEL_VALUES}), not confirmed for PSFHS",
    labels=_LABELS, reader=_reader("label_mha"),
    downloads=(Download(url="https://zenodo.org/records/10969427/files/PSFHS.zip", filename="PSFHS.zip",
                        checksum="sha256:3f4a8126c84640e4d1b8a4e296d0dfd599cea6529b64b9ee00e5489bfd17ea95",
                        checksum_source="constantinpape/torch-em@6f71247c0bde24cb050bb25501ca61517ce08b7f:"
                                        "torch_em/data/datasets/medical/psfhs.py (CHECKSUM)"),),
    instructions="unzip PSFHS.zip; --source psfhs=/data/PSFHS",
    notes="1,358 images from 1,124 patients without patient ids (as a public preparation script notes), so each "
          "image is its own split unit and a patient may fall in two splits.",
)

_HC18_FILES = "https://zenodo.org/records/1327317/files/"
HC18 = SourceEntry(
    key="hc18", name="HC18: fetal head circumference (2D ultrasound, head ellipse annotations, training set)",
    homepage="https://hc18.grand-challenge.org/",
    citation="van den Heuvel T.L.A. et al. Automated measurement of fetal head circumference using 2D ultrasound "
             "images. PLoS ONE 13(8), e0200412 (2018). doi:10.1371/journal.pone.0200412; data: Zenodo "
             "doi:10.5281/zenodo.1327317",
    license="CC-BY-4.0", license_status="secondary", license_url=(
        "dataset-ninja/fetal-head-ultrasound@13ff9fa7990eee66a2c4bbdb0d364a47ac87620c:src/settings.py (LICENSE = "
        "License.CC_BY_4_0(), DOWNLOAD_ORIGINAL_URL zenodo.org/record/1327317); the Zenodo record's licence field "
        "was not read here"),
    split_unit="patient", modality="US", body_part="head", size="~50 MB",
    layout="training_set/NNN_HC.png (800x540 grey; a second plane of the same examination is NNN_2HC.png, ...) + "
           "training_set/NNN_HC_Annotation.png (the head ellipse drawn as a 1-pixel outline, 255 on 0) + "
           "training_set_pixel_size_and_HC.csv (filename, pixel size(mm), head circumference (mm); not read); "
           "test_set/ has no annotations and is not read; pass the folder holding training_set/",
    layout_confirmed_at="the challenge description (hc18.grand-challenge.org, as copied at "
                        "easymed.ai/datasets/gilberto-topp/HC18-Challenge: 999 training images of 800 x 540 pixels, "
                        "training_set_pixel_size_and_HC.csv, 'an additional number in the filename between _ and HC, "
                        "for example 010_HC.png, 010_2HC.png' for planes of the same examination); <id>_HC.png beside "
                        "<id>_HC_Annotation.png in training_set/ in loaders in public GitHub code (find_string "
                        "'_HC_Annotation.png'); the annotation is a 1-pixel ellipse outline, not a filled region "
                        "(huggingface.co/datasets/Angelou0516/HC18 card: 'ellipse outlines (rings), not filled')",
    labels={"head": Label(target="fetal head", body_part="head")},
    reader=ImageMaskReader(image_globs=("training_set/*HC.png",), exclude=r"_Annotation",
                           masks=(MaskFile(label="head", template="{dir}/{stem}_Annotation.png", threshold=127,
                                           fill=True),),
                           patient_regex=r"^(\d{3})_"),
    downloads=(Download(url=_HC18_FILES + "training_set.zip?download=1", filename="training_set.zip"),
               Download(url=_HC18_FILES + "training_set_pixel_size_and_HC.csv?download=1",
                        filename="training_set_pixel_size_and_HC.csv")),
    instructions="unzip training_set.zip beside the CSV; --source hc18=/data/hc18",
    notes="The region is the inside of the drawn ellipse (outline filled); an outline that is not closed is bad "
          "input. Planes of one examination (NNN_HC, NNN_2HC...) share a split. Licence read only at a catalogue: "
          "annotations with pointers only until it is read at the Zenodo record.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (FH_PS_AOP, PSFHS, HC18,)
