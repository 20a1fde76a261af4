"""Spine sources: VerSe'19/'20 (CT, vertebra masks with centroid files) and SPIDER (lumbar spine MR, vertebrae,
discs and spinal canal, with per-disc radiological gradings)."""

from __future__ import annotations

from vgmed_data.builders.entry import Download, Label, SourceEntry
from vgmed_data.builders.readers.attribute_table import AttributeTable
from vgmed_data.builders.readers.bids import BidsCentroidReader
from vgmed_data.builders.readers.nifti import PairedFileReader

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

# SPIDER ------------------------------------------------------------------------------------------------------
_SPIDER_ANALYSIS = ("an analysis module of radiological_gradings.csv in public GitHub code (find_string "
                    "'radiological_gradings.csv': columns Patient, IVD label, Modic (0-3), UP endplate, LOW endplate, "
                    "Spondylolisthesis, Disc herniation, Disc narrowing, Disc bulging (0/1), Pfirrman grade (1-5); "
                    "'Masks label the lowest IVD 201, the next one up 202', i.e. mask label = 200 + IVD label)")
_TORCH_EM_SPIDER = ("constantinpape/torch-em@6f71247c0bde24cb050bb25501ca61517ce08b7f:torch_em/data/datasets/medical/"
                    "spider.py")
_PRESENT = {"0": "absent", "1": "present"}
_SPIDER_GRADINGS = AttributeTable(
    file="radiological_gradings.csv", patient_column="Patient", label_column="IVD label", label_offset=200,
    columns={"Pfirrman grade": ("Pfirrmann grade", {str(g): str(g) for g in range(1, 6)}),
             "Modic": ("Modic change", {"0": "none", "1": "type I", "2": "type II", "3": "type III"}),
             "UP endplate": ("upper endplate defect", _PRESENT), "LOW endplate": ("lower endplate defect", _PRESENT),
             "Spondylolisthesis": ("spondylolisthesis", _PRESENT), "Disc herniation": ("disc herniation", _PRESENT),
             "Disc narrowing": ("disc narrowing", _PRESENT), "Disc bulging": ("disc bulging", _PRESENT)},
    applies_to=r"_t2")


def _from_bottom(n: int) -> str:
    return "lowest" if n == 1 else f"{n}{'nd' if n == 2 else 'rd' if n == 3 else 'th'} from the bottom"


SPIDER = SourceEntry(
    key="spider", name="SPIDER: lumbar spine MRI (T1, T2, T2 SPACE) with vertebrae, discs, canal and disc gradings",
    homepage="https://spider.grand-challenge.org/",
    citation="van der Graaf J.W. et al. Lumbar spine segmentation in MR images: a dataset and a public benchmark. "
             "Sci Data 11, 264 (2024). doi:10.1038/s41597-024-03090-w; data: Zenodo doi:10.5281/zenodo.10159290",
    license="CC-BY-4.0", license_status="secondary", license_url=(
        "huggingface.co card of a copy of SPIDER ('SPIDER: Spine MRI Segmentation', front matter 'license: "
        "cc-by-4.0', citing the Sci Data paper and zenodo.org/records/10159290; found by search in public code); "
        "the Zenodo record itself was not read"),
    split_unit="patient", modality="MR", body_part="spine", size="~3 GB",
    layout="images/<patient>_{t1,t2,t2_SPACE}.mha + masks/<same name> (3D MetaImage; labels: vertebrae 1-25 "
           "counted from the bottom, 100 spinal canal, discs 201-225 counted from the bottom) + overview.csv + "
           "radiological_gradings.csv (one row per patient and disc: Patient, IVD label, Modic, UP endplate, LOW "
           "endplate, Spondylolisthesis, Disc herniation, Disc narrowing, Disc bulging, Pfirrman grade); pass the "
           "folder holding images/ and masks/",
    layout_confirmed_at=_TORCH_EM_SPIDER + " (images.zip and masks.zip from zenodo.org/records/10159290 with sha256, "
                        "images/*.mha and masks/*.mha); a loader README in public GitHub code (data/raw/{images, "
                        "masks, overview.csv, radiological_gradings.csv}, '<patient_id>_<modality>.mha'); "
                        + _SPIDER_ANALYSIS + ". Not confirmed: the vertebra numbering direction (taken to be the "
                        "discs' one) and the canal's value 100 were not read at the source",
    labels={**{str(n): Label(target=f"{_from_bottom(n)} vertebra", body_part="spine", group="vertebrae")
               for n in range(1, 26)},
            "100": Label(target="spinal canal", body_part="spine"),
            **{str(200 + n): Label(target=f"{_from_bottom(n)} intervertebral disc", body_part="spine",
                                   group="intervertebral discs") for n in range(1, 26)}},
    reader=PairedFileReader(image_glob="images/*.mha", image_suffix=".mha", label_template="masks/{name}",
                            patient_regex=r"^(\d+)_", gradings=_SPIDER_GRADINGS),
    attributes=_SPIDER_GRADINGS.vocabulary(),
    downloads=(Download(url="https://zenodo.org/records/10159290/files/images.zip?download=1", filename="images.zip",
                        checksum="sha256:a54cba2905284ff6cc9999f1dd0e4d871c8487187db7cd4b068484eac2f50f17",
                        checksum_source=_TORCH_EM_SPIDER + " CHECKSUMS"),
               Download(url="https://zenodo.org/records/10159290/files/masks.zip?download=1", filename="masks.zip",
                        checksum="sha256:13a6e25a8c0d74f507e16ebb2edafc277ceeaf2598474f1fed24fdf59cb7f18f",
                        checksum_source=_TORCH_EM_SPIDER + " CHECKSUMS"),
               Download(url="https://zenodo.org/records/10159290/files/radiological_gradings.csv?download=1",
                        filename="radiological_gradings.csv")),
    planes=("sagittal",),
    instructions="unzip images.zip and masks.zip beside radiological_gradings.csv; --source spider=/data/spider",
    notes="Questions on T2 series also ask the source's per-disc gradings (source_attribute: Pfirrmann grade, Modic "
          "change, endplate defects, spondylolisthesis, herniation, narrowing, bulging), answered from "
          "radiological_gradings.csv; vertebrae and discs are also counted per view (group_count). Licence read only "
          "at a Hub copy: annotations with pointers only until it is read at the Zenodo record.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (VERSE, SPIDER,)
