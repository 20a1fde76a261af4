"""Large CT collections distributed as NIfTI: KiTS23 and TotalSegmentator."""

from __future__ import annotations

from vgmed_data.builders.entry import Label, SourceEntry
from vgmed_data.builders.readers.nifti import CaseFolderReader, StructureFolderReader

KITS23 = SourceEntry(
    key="kits23", name="KiTS23: Kidney and Kidney Tumor Segmentation Challenge 2023",
    homepage="https://kits-challenge.org/kits23/",
    citation="Heller N. et al. The KiTS21 Challenge. arXiv:2307.01984 (2023)",
    license="CC-BY-NC-SA-4.0", license_url=(
        "https://github.com/neheller/kits23 (README 'License and Attribution', @063d4c00afd383fc68145a00c0aa6a4e2a3c0f50: "
        "data under 'CC BY-NC-SA', version not given there; code MIT. Version 4.0 is stated for the same data "
        "series at https://kits-challenge.org/kits21/participate)"),
    license_status="stated", split_unit="patient", modality="CT", body_part="abdomen", size="29 GB",
    layout="dataset/case_XXXXX/imaging.nii.gz + dataset/case_XXXXX/segmentation.nii.gz "
           "(0=background, 1=kidney, 2=tumor, 3=cyst) + dataset/case_XXXXX/instances/"
           "<kidney|tumor|cyst>_instance-N_annotation-M.nii.gz (not read); pass the dataset/ folder",
    layout_confirmed_at="neheller/kits23@450fa83dfac5698d113c12cee2260c602459112d:kits23/download.py (writes "
                        "dataset/case_NNNNN/imaging.nii.gz); segmentation.nii.gz and instances/ files committed under "
                        "dataset/case_*/ in neheller/kits23 (e.g. @f2699006dac37c5196df1cf8393ff46d2e636658); label "
                        "ids at neheller/kits23@2b0905033291b9b0ae23eaf636ca218cd76451f8:kits23/configuration/labels.py "
                        "(KITS_LABEL_NAMES 1 kidney, 2 tumor, 3 cyst; GT_SEGM_FNAME 'segmentation.nii.gz')",
    labels={"1": Label(target="kidney", body_part="abdomen"),
            "2": Label(target="kidney tumour", body_part="abdomen", kind="lesion"),
            "3": Label(target="kidney cyst", body_part="abdomen", kind="lesion")},
    reader=CaseFolderReader(case_glob="case_*", image_name="imaging.nii.gz", label_name="segmentation.nii.gz"),
    window="abdomen", laterality_known=True,
    instructions="git clone https://github.com/neheller/kits23 && cd kits23 && pip install -e . && "
                 "kits23_download_data  (downloads the images into kits23/dataset/); then "
                 "--source kits23=/path/kits23/dataset",
)

TOTALSEGMENTATOR = SourceEntry(
    key="totalsegmentator", name="TotalSegmentator dataset v2 (1228 CTs, 117 structures)",
    homepage="https://github.com/wasserth/TotalSegmentator",
    citation="Wasserthal J. et al. TotalSegmentator: robust segmentation of 104 anatomic structures in CT images. "
             "Radiology: Artificial Intelligence 5(5) (2023). doi:10.1148/ryai.230024",
    license="CC-BY-4.0", license_url="https://zenodo.org/records/10047292",
    license_status="stated", split_unit="volume", modality="CT", body_part="whole body", size="23.6 GB",
    layout="sXXXX/ct.nii.gz + sXXXX/segmentations/<structure>.nii.gz (one binary file per structure) + meta.csv",
    layout_confirmed_at="wasserth/TotalSegmentator@4cb664c1507782a7e503a203cd619406fbb06abe:resources/"
                        "convert_dataset_to_nnunet.py (the dataset author's script: meta.csv read with sep=';', "
                        "columns image_id and split, <root>/<image_id>/ct.nii.gz); kaiko-ai/eva: src/eva/vision/data/"
                        "datasets/segmentation/total_segmentator_2d.py (<sample>/segmentations/*.nii.gz); "
                        "zenodo.org/records/10047292. Not confirmed: meta.csv columns other than image_id and split "
                        "(age, gender, institute, study_type in the miniature are unverified; the reader does not "
                        "use them)",
    labels={name: Label(target=target, body_part=part) for name, target, part in (
        ("liver", "liver", "abdomen"), ("spleen", "spleen", "abdomen"), ("pancreas", "pancreas", "abdomen"),
        ("kidney_left", "left kidney", "abdomen"), ("kidney_right", "right kidney", "abdomen"),
        ("stomach", "stomach", "abdomen"), ("gallbladder", "gallbladder", "abdomen"),
        ("urinary_bladder", "urinary bladder", "pelvis"), ("aorta", "aorta", "chest"),
        ("esophagus", "esophagus", "chest"), ("trachea", "trachea", "chest"), ("heart", "heart", "chest"))},
    reader=StructureFolderReader(case_glob="s[0-9][0-9][0-9][0-9]", image_name="ct.nii.gz",
                                 structures_dir="segmentations"),
    window="abdomen", laterality_known=True,
    instructions="Download Totalsegmentator_dataset_v201.zip from https://zenodo.org/records/10047292, unzip, and "
                 "pass the folder holding s0000/, s0001/...: --source totalsegmentator=/data/Totalsegmentator_dataset_v201",
    notes="The label map picks 12 of the 117 structures as targets; other structure files are not read.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (KITS23, TOTALSEGMENTATOR,)
