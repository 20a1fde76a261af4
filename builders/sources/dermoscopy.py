"""Dermoscopy beyond ISIC 2018: ISIC 2016 Part 1 (lesion segmentation), whose licence is read two ways."""

from __future__ import annotations

from vgmed_data.builders.entry import Download, Label, SourceEntry
from vgmed_data.builders.readers.image_mask import ImageMaskReader, MaskFile

_S3 = "https://isic-challenge-data.s3.amazonaws.com/2016"

ISIC2016 = SourceEntry(
    key="isic2016-part1", name="ISIC 2016 Part 1: lesion segmentation",
    homepage="https://challenge.isic-archive.com/data/#2016",
    citation="Gutman D. et al. Skin Lesion Analysis toward Melanoma Detection: A Challenge at the International "
             "Symposium on Biomedical Imaging (ISBI) 2016. arXiv:1605.01397",
    license="CC-BY-NC-4.0", license_status="conflicting", license_url=(
        "zekikus/MedSegBench@54fde021831ca89ab770096b9c2bec7de1c91957:medsegbench/info.py ('isic2016': 'CC BY-NC "
        "4.0') vs https://paperswithcode2.com/dataset/10986 (ISIC2016 'Lesion Segmentation' card linking CC0); "
        "the ISIC challenge page's own terms were not read"),
    split_unit="image", modality="DERMOSCOPY", body_part="skin", size="1 GB",
    layout="ISBI2016_ISIC_Part1_{Training,Test}_Data/ISIC_<7 digits>.jpg + "
           "ISBI2016_ISIC_Part1_{Training,Test}_GroundTruth/ISIC_<7 digits>_Segmentation.png (single-channel 0/255, "
           "same size as the image); pass the folder holding them",
    layout_confirmed_at="https://paperswithcode2.com/dataset/10986 (the challenge's data description: ISIC_<image_id>"
                        ".jpg, masks ISIC_<image_id>_Segmentation.png, 0 background / 255 lesion, same dimensions); "
                        "folder names ISBI2016_ISIC_Part1_{Training,Test}_{Data,GroundTruth} and the archive URLs "
                        "from GitHub loaders (find_string 'ISBI2016_ISIC_Part1_Training_GroundTruth')",
    labels={"lesion": Label(target="skin lesion", body_part="skin", kind="lesion")},
    reader=ImageMaskReader(
        image_globs=("ISBI2016_ISIC_Part1_*_Data/ISIC_*.jpg",),
        masks=(MaskFile(label="lesion", template="ISBI2016_ISIC_Part1_*_GroundTruth/{stem}_Segmentation.png",
                        multi=True, threshold=127),)),
    downloads=tuple(Download(url=f"{_S3}/{name}.zip", filename=f"{name}.zip") for name in (
        "ISBI2016_ISIC_Part1_Training_Data", "ISBI2016_ISIC_Part1_Training_GroundTruth",
        "ISBI2016_ISIC_Part1_Test_Data", "ISBI2016_ISIC_Part1_Test_GroundTruth")),
    instructions="unzip the four archives into one folder; --source isic2016-part1=/data/isic2016",
    notes="Two secondary catalogues state different licences (CC BY-NC 4.0 and CC0): recorded as conflicting, so "
          "images are not published until the ISIC archive's own terms for these images are read.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (ISIC2016,)
