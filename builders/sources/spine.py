"""Spine sources: VerSe'19/'20 (CT, vertebra masks with centroid files)."""

from __future__ import annotations

from vgmed_data.builders.entry import Download, Label, SourceEntry
from vgmed_data.builders.readers.bids import BidsCentroidReader

VERSE_README = "anjany/verse@02b292b86021a8873043124982f5f58da9ba1cb8:README.md"
# VerSe label values (README 'Data'): 1-7 C1-C7, 8-19 T1-T12, 20-25 L1-L6, 28 the additional T13; 26 sacrum and
# 27 coccyx are "not labeled in this dataset".
_LEVELS = ([(value, f"C{value}") for value in range(1, 8)] + [(value, f"T{value - 7}") for value in range(8, 20)]
           + [(value, f"L{value - 19}") for value in range(20, 26)] + [(28, "T13")])
_VERSE_ARCHIVES = tuple(f"dataset-verse{year}{part}.zip" for year in ("19", "20")
                        for part in ("training", "validation", "test"))

VERSE = SourceEntry(
    key="verse", name="VerSe'19 and VerSe'20: vertebrae labelling and segmentation (CT)",
    homepage="https://github.com/anjany/verse",
    citation="Sekuboyina A. et al. VerSe: A Vertebrae Labelling and Segmentation Benchmark for Multi-detector CT "
             "Images. Medical Image Analysis 73, 102166 (2021). doi:10.1016/j.media.2021.102166; Löffler M. et al. "
             "A Vertebral Segmentation Dataset with Fracture Grading. Radiology: AI (2020). doi:10.1148/ryai.2020190138; "
             "Liebl H. et al. A Computed Tomography Vertebral Segmentation Dataset with Anatomical Variations and "
             "Multi-Vendor Scanner Data. arXiv:2103.06360",
    license="CC-BY-SA-4.0", license_url=(
        VERSE_README + " ('License': 'The data is provided under the CC BY-SA 4.0 License'); also "
        "https://osf.io/b2wxj/wiki for the MICCAI version of VerSe'20 ('published under the licence CC BY-SA 4.0')"),
    license_status="stated", split_unit="patient", modality="CT", body_part="spine",
    size="not stated (six archives)",
    layout="dataset-verse{19,20}{training,validation,test}/rawdata/sub-<id>/<stem>_ct.nii.gz + "
           "derivatives/sub-<id>/{<stem>_seg-vert_msk.nii.gz (vertebra labels 1-7 C1-C7, 8-19 T1-T12, 20-25 L1-L6, "
           "28 T13), <stem>_seg-subreg_ctd.json ([{'direction': [...]}, {'label', 'X', 'Y', 'Z'}, ...], voxel "
           "coordinates), <stem>_seg-vert_snp.png}; <stem> is sub-<id> or sub-<id>_dir-<orientation>; pass the "
           "folder the archives were extracted into",
    layout_confirmed_at=VERSE_README + " ('Data': sub-directory per patient, BIDS entities, rawdata/ and derivatives/ "
                        "file names, centroid label values) and utils/data_utilities.py (load_centroids: first item "
                        "'direction', then label/X/Y/Z, NaN centroids skipped) and utils/sample/ "
                        "(sub-verse004_ct.nii.gz, sub-verse004_seg-vert_msk.nii.gz, sub-verse004_seg-subreg_ctd.json "
                        "with direction ['P', 'I', 'R'] and labels 16-24); constantinpape/torch-em@6f71247c0bde24cb050b"
                        "b25501ca61517ce08b7f:torch_em/data/datasets/medical/verse.py (rawdata/*/*_ct.nii.gz, "
                        "derivatives/*/*_msk.nii.gz)",
    labels={str(value): Label(target=f"{name} vertebra", body_part="spine", group="vertebrae")
            for value, name in _LEVELS},
    reader=BidsCentroidReader(),
    downloads=tuple(Download(url=f"https://s3.bonescreen.de/public/VerSe-complete/{name}", filename=name)
                    for name in _VERSE_ARCHIVES),
    window="bone", planes=("sagittal",),
    instructions="unzip the six dataset-verse*.zip archives into one folder; --source verse=/data/verse",
    notes="Views are sagittal slices through each vertebra. Questions: where each vertebra is ('where is the L3 "
          "vertebra'), and how many vertebrae are visible (group_count, from the distinct vertebra labels on the "
          "slice; not asked when a vertebra is only grazed). VerSe'20 re-releases VerSe'19 scans (ids below 450): "
          "identical images are dropped as duplicates by the build. No checksums are published for the archives.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (VERSE,)
