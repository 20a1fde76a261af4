"""CT, MR and PET volume collections in NIfTI beyond the Decathlon: AMOS22, AbdomenAtlas 1.1 Mini, TotalSegmentator
MRI, ACDC, RibFrac, autoPET (FDG-PET-CT-Lesions) and ISLES 2022.

Layouts were read at nnU-Net's dataset conversion scripts (MIC-DKFZ/nnUNet@0e495086eb108ff79afe106291e8c15bd2f2bc3a,
``nnunetv2/dataset_conversion/``), which read each source as its publisher ships it, and at the sources' own pages
where named in the entry.
"""

from __future__ import annotations

from vgmed_data.builders.entry import Download, Label, SourceEntry
from vgmed_data.builders.readers.nifti import CaseFolderReader, DecathlonReader, PairedFileReader, StructureFolderReader

NNUNET = "MIC-DKFZ/nnUNet@0e495086eb108ff79afe106291e8c15bd2f2bc3a:nnunetv2/dataset_conversion/"


def _labels(pairs: tuple[tuple[str, str, str, str], ...]) -> dict[str, Label]:
    return {key: Label(target=target, body_part=part, kind=kind) for key, target, part, kind in pairs}


# ------------------------------------------------------------------------------------------------------- AMOS22
_AMOS_LABELS = _labels((
    ("1", "spleen", "abdomen", "organ"), ("2", "right kidney", "abdomen", "organ"),
    ("3", "left kidney", "abdomen", "organ"), ("4", "gallbladder", "abdomen", "organ"),
    ("5", "esophagus", "chest", "organ"), ("6", "liver", "abdomen", "organ"), ("7", "stomach", "abdomen", "organ"),
    ("8", "aorta", "abdomen", "organ"), ("9", "inferior vena cava", "abdomen", "organ"),
    ("10", "pancreas", "abdomen", "organ"), ("11", "right adrenal gland", "abdomen", "organ"),
    ("12", "left adrenal gland", "abdomen", "organ"), ("13", "duodenum", "abdomen", "organ"),
    ("14", "urinary bladder", "pelvis", "organ"), ("15", "prostate or uterus", "pelvis", "organ")))
_AMOS_LAYOUT = ("amos22/{dataset.json, readme.md, imagesTr, labelsTr, imagesVa, labelsVa, imagesTs}/amos_NNNN.nii.gz; "
                "dataset.json lists 'training' and 'validation' image/label pairs and 'labels' {'1': 'spleen', "
                "'2': 'right kidney', '3': 'left kidney', '4': 'gall bladder', '5': 'esophagus', '6': 'liver', "
                "'7': 'stomach', '8': 'arota' [sic], '9': 'postcava', '10': 'pancreas', '11': 'right adrenal gland', "
                "'12': 'left adrenal gland', '13': 'duodenum', '14': 'bladder', '15': 'prostate/uterus'}; case numbers "
                "below 500 are CT, 500 and above MR; pass the amos22/ folder")
_AMOS_LAYOUT_SOURCE = (NNUNET + "Dataset218_Amos2022_task1.py (dataset.json 'training'/'validation'/'test' lists, "
                       "imagesTr/labelsTr/imagesVa/labelsVa, CT by case number; labels taken from the source's "
                       "dataset.json); the AMOS readme.md as quoted in a Hub copy "
                       "(huggingface.co/datasets/onkarsus13/AllMedicalCombine amos/amos22/readme.md: 'id numbers less "
                       "than 500 belong to CT data, otherwise they belong to MRI data', imagesTr/labelsTr 240 scans, "
                       "imagesVa/labelsVa 120); label names as written in dataset.json files quoted in public GitHub "
                       "code (find_string '\"15\": \"prostate/uterus\"')")
_AMOS_LICENCE = ("https://openreview.net/forum?id=Vk4-HUnkEak (the authors' NeurIPS 2022 Datasets and Benchmarks page: "
                 "'License: CC BY-NC-', the rest cut off in the copy read, so the variant (-SA or -ND) is not known); "
                 "a public loader's dataset_info (GitHub code, find_string '\"15\": \"prostate/uterus\"') gives "
                 "'CC BY 4.0' for zenodo.org/records/7262581. The Zenodo record itself was not read")
_AMOS_COMMON = dict(
    homepage="https://amos22.grand-challenge.org/",
    citation="Ji Y. et al. AMOS: A Large-Scale Abdominal Multi-Organ Benchmark for Versatile Medical Image "
             "Segmentation. NeurIPS 2022 Datasets and Benchmarks. arXiv:2206.08023",
    license="CC-BY-NC-4.0", license_url=_AMOS_LICENCE, license_status="conflicting", split_unit="volume",
    body_part="abdomen", layout=_AMOS_LAYOUT, layout_confirmed_at=_AMOS_LAYOUT_SOURCE, labels=_AMOS_LABELS,
    laterality_known=True,
    downloads=(Download(url="https://zenodo.org/records/7262581/files/amos22.zip?download=1", filename="amos22.zip"),),
    instructions="unzip amos22.zip (zenodo.org/records/7262581); pass the amos22/ folder (the same folder serves "
                 "amos22-ct and amos22-mr)",
    notes="Licence conflicting (see where read): images are published as annotations with pointers only. The "
          "'test' list has no labels and is not read. The archive name amos22.zip follows loaders' amos22/ folder; "
          "it was not read at the record.",
)
AMOS_CT = SourceEntry(
    key="amos22-ct", name="AMOS22: abdominal multi-organ segmentation, CT part (cases < 500)", modality="CT",
    size="~23 GB (the whole amos22.zip)", window="abdomen",
    reader=DecathlonReader(lists=("training", "validation"), case_pattern=r"amos_0[0-4]\d\d"), **_AMOS_COMMON)
AMOS_MR = SourceEntry(
    key="amos22-mr", name="AMOS22: abdominal multi-organ segmentation, MR part (cases >= 500)", modality="MR",
    size="~23 GB (the whole amos22.zip)",
    reader=DecathlonReader(lists=("training", "validation"), case_pattern=r"amos_0[5-9]\d\d"), **_AMOS_COMMON)

# --------------------------------------------------------------------------------------------- AbdomenAtlas 1.1
_ATLAS_NAMES = (
    "aorta", "gall_bladder", "kidney_left", "kidney_right", "liver", "pancreas", "postcava", "spleen", "stomach",
    "adrenal_gland_left", "adrenal_gland_right", "bladder", "celiac_trunk", "colon", "duodenum", "esophagus",
    "femur_left", "femur_right", "hepatic_vessel", "intestine", "lung_left", "lung_right",
    "portal_vein_and_splenic_vein", "prostate", "rectum")
_ATLAS_TARGETS = {
    "gall_bladder": "gallbladder", "kidney_left": "left kidney", "kidney_right": "right kidney",
    "postcava": "inferior vena cava", "adrenal_gland_left": "left adrenal gland",
    "adrenal_gland_right": "right adrenal gland", "bladder": "urinary bladder", "celiac_trunk": "celiac trunk",
    "femur_left": "left femur", "femur_right": "right femur", "hepatic_vessel": "hepatic vessels",
    "intestine": "small intestine", "lung_left": "left lung", "lung_right": "right lung",
    "portal_vein_and_splenic_vein": "portal and splenic vein"}
_ATLAS_PARTS = {"esophagus": "chest", "lung_left": "chest", "lung_right": "chest", "femur_left": "pelvis",
                "femur_right": "pelvis", "bladder": "pelvis", "prostate": "pelvis", "rectum": "pelvis"}
ABDOMENATLAS = SourceEntry(
    key="abdomenatlas-1.1-mini", name="AbdomenAtlas 1.1 Mini (abdominal CT, 25 classes)",
    homepage="https://huggingface.co/datasets/AbdomenAtlas/_AbdomenAtlas1.1Mini",
    citation="Li W. et al. AbdomenAtlas: A large-scale, detailed-annotated, & multi-center dataset for efficient "
             "transfer learning and open algorithmic benchmarking. Medical Image Analysis 97, 103285 (2024). "
             "doi:10.1016/j.media.2024.103285",
    license="CC-BY-NC-SA-4.0", license_url=(
        "https://huggingface.co/datasets/BodyMaps/AbdomenAtlas1.0Mini (the authors' Hub organisation: card "
        "'License: cc-by-nc-sa-4.0' for the 1.0 Mini release of the same series); " + NNUNET +
        "Dataset023_AbdomenAtlas1_1Mini.py generate_dataset_json license 'Creative Commons Attribution Non "
        "Commercial Share Alike 4.0; see reference' for 1.1 Mini. The 1.1 Mini card itself was not read"),
    license_status="secondary", split_unit="volume", modality="CT", body_part="abdomen", size="~300 GB",
    layout="BDMAP_NNNNNNNN/{ct.nii.gz, combined_labels.nii.gz (0=background, 1..25 in the class order below), "
           "segmentations/<class>.nii.gz (not read)}; cases 5196-9262 have labels but no ct.nii.gz; pass the folder "
           "holding the BDMAP_* folders",
    layout_confirmed_at=NNUNET + "Dataset023_AbdomenAtlas1_1Mini.py (BDMAP case folders, ct.nii.gz + "
                        "combined_labels.nii.gz, class_map 1 aorta .. 25 rectum, 'cases 5196-9262 currently do not "
                        "have images'); file names also seen on huggingface.co/datasets/BodyMaps/AbdomenAtlas1.0Mini "
                        "(BDMAP_00000031/{combined_labels.nii.gz, ct.nii.gz, segmentations/})",
    labels={str(value): Label(target=_ATLAS_TARGETS.get(name, name.replace("_", " ")),
                              body_part=_ATLAS_PARTS.get(name, "abdomen"))
            for value, name in enumerate(_ATLAS_NAMES, start=1)},
    reader=CaseFolderReader(case_glob="BDMAP_*", image_name="ct.nii.gz", label_name="combined_labels.nii.gz",
                            image_optional=True),
    window="abdomen", laterality_known=True,
    instructions="Download from https://huggingface.co/datasets/AbdomenAtlas/_AbdomenAtlas1.1Mini (its card gives the "
                 "download script; the archives unpack into BDMAP_* folders); --source abdomenatlas-1.1-mini=/data/"
                 "AbdomenAtlas1.1Mini",
    notes="Licence read at the authors' card of the sibling 1.0 Mini release and at nnU-Net's loader, not at the 1.1 "
          "Mini card: annotations with pointers only until it is. "
          "Cases shipped without ct.nii.gz are listed in the build report as skipped ('no image in the release'). "
          "Labels were made by AI models and revised by radiologists (see the paper).",
)

# ------------------------------------------------------------------------------------------ TotalSegmentator MRI
TOTALSEGMENTATOR_MRI = SourceEntry(
    key="totalsegmentator-mri", name="TotalSegmentator MRI dataset (sequence-independent, 50+ structures)",
    homepage="https://github.com/wasserth/TotalSegmentator",
    citation="Akinci D'Antonoli T. et al. TotalSegmentator MRI: Robust Sequence-independent Segmentation of Multiple "
             "Anatomic Structures in MRI. Radiology 314(2) (2025). arXiv:2405.19492",
    license="CC-BY-4.0", license_url=(
        "https://zenodo.org/records/14710732 as labelled in a public catalogue's README (GitHub code, find_string "
        "'records/14710732': 'TotalSegmentator MRI | 616 MRI scans ... | CC BY 4.0'); nnU-Net's Dataset227 script "
        "says only 'license: see reference' (zenodo.org/records/11367005). The Zenodo record itself was not read"),
    license_status="secondary", split_unit="volume", modality="MR", body_part="whole body", size="5.1 GB (v2.0)",
    layout="TotalsegmentatorMRI_dataset_v200/sNNNN/{mri.nii.gz, segmentations/<structure>.nii.gz} + meta.csv; pass "
           "the folder holding the sNNNN folders",
    layout_confirmed_at=NNUNET + "Dataset227_TotalSegmentatorMRI.py (<case>/mri.nii.gz, <case>/segmentations/"
                        "*.nii.gz, one binary file per structure, names from the file names); TotalsegmentatorMRI_"
                        "dataset_v200/s0029/mri.nii.gz and the download URL .../records/14710732/files/TotalsegmentatorMRI_"
                        "dataset_v200.zip in public code (find_string 'TotalsegmentatorMRI_dataset'); "
                        "structure file names shared with the CT release (liver, spleen, kidney_left...)",
    labels={name: Label(target=target, body_part=part) for name, target, part in (
        ("liver", "liver", "abdomen"), ("spleen", "spleen", "abdomen"), ("pancreas", "pancreas", "abdomen"),
        ("kidney_left", "left kidney", "abdomen"), ("kidney_right", "right kidney", "abdomen"),
        ("stomach", "stomach", "abdomen"), ("gallbladder", "gallbladder", "abdomen"),
        ("urinary_bladder", "urinary bladder", "pelvis"), ("aorta", "aorta", "chest"), ("heart", "heart", "chest"))},
    reader=StructureFolderReader(case_glob="s[0-9][0-9][0-9][0-9]", image_name="mri.nii.gz",
                                 structures_dir="segmentations"),
    laterality_known=True,
    downloads=(Download(url="https://zenodo.org/records/14710732/files/TotalsegmentatorMRI_dataset_v200.zip?download=1",
                        filename="TotalsegmentatorMRI_dataset_v200.zip"),),
    instructions="unzip TotalsegmentatorMRI_dataset_v200.zip; "
                 "--source totalsegmentator-mri=/data/TotalsegmentatorMRI_dataset_v200",
    notes="The label map picks 10 structures as targets; other structure files are not read. Licence read only at a "
          "catalogue: annotations with pointers only until it is read at the Zenodo record.",
)

# ------------------------------------------------------------------------------------------------------- ACDC
ACDC = SourceEntry(
    key="acdc", name="ACDC: Automated Cardiac Diagnosis Challenge (cine MRI, end-diastole and end-systole frames)",
    homepage="https://www.creatis.insa-lyon.fr/Challenge/acdc/",
    citation="Bernard O. et al. Deep Learning Techniques for Automatic MRI Cardiac Multi-structures Segmentation and "
             "Diagnosis: Is the Problem Solved? IEEE TMI 37(11), 2514-2525 (2018). doi:10.1109/TMI.2018.2837502",
    license="CC-BY-NC-SA-4.0", license_url=(
        "huggingface.co/datasets/chehablab/ACDC card front matter 'license: cc-by-nc-sa-4.0' (a re-upload); the "
        "challenge pages read (creatis.insa-lyon.fr/Challenge/acdc/evaluation.html, databasesClassification.html) "
        "require citing the TMI paper and state no licence"),
    license_status="secondary", split_unit="patient", modality="MR", body_part="heart", size="~2.3 GB",
    layout="database/{training,testing}/patientNNN/{patientNNN_frameNN.nii.gz (the end-diastole and end-systole "
           "frames), patientNNN_frameNN_gt.nii.gz (0=background, 1=right ventricle cavity, 2=myocardium, 3=left "
           "ventricle cavity), patientNNN_4d.nii.gz (not read), Info.cfg}; pass the database/ folder",
    layout_confirmed_at=NNUNET + "Dataset027_ACDC.py (training/ and testing/ patient folders, '_gt' label beside each "
                        "frame, '_4d' skipped; labels RV 1, MLV 2, LVC 3); label meaning also at "
                        "https://www.creatis.insa-lyon.fr/Challenge/acdc/evaluation.html ('0, 1, 2 and 3 represent "
                        "voxels located in the background, in the RV cavity, in the myocardium, and in the LV cavity')",
    labels=_labels((("1", "right ventricle", "heart", "organ"), ("2", "left ventricular myocardium", "heart", "organ"),
                    ("3", "left ventricle", "heart", "organ"))),
    reader=PairedFileReader(image_glob="*/patient*/patient[0-9][0-9][0-9]_frame[0-9][0-9].nii.gz",
                            image_suffix=".nii.gz", label_suffix="_gt.nii.gz", patient_regex=r"^(patient\d{3})_"),
    instructions="Register at https://humanheart-project.creatis.insa-lyon.fr/database/ (ACDC), download the "
                 "'database' archive and unzip; --source acdc=/data/ACDC/database",
    notes="Licence read only at a re-upload: annotations with pointers only until it is read at the source.",
)

# ----------------------------------------------------------------------------------------------------- RibFrac
RIBFRAC = SourceEntry(
    key="ribfrac", name="RibFrac: rib fracture detection and classification on chest CT",
    homepage="https://ribfrac.grand-challenge.org/",
    citation="Jin L. et al. Deep-learning-assisted detection and segmentation of rib fractures from CT scans: "
             "Development and validation of FracNet. EBioMedicine 62, 103106 (2020). doi:10.1016/j.ebiom.2020.103106",
    license="LicenseRef-RibFrac-unread", license_url=(
        "https://ribfrac.grand-challenge.org/ (not read: the licence of the Zenodo archives the challenge links could "
        "not be read here; nnU-Net's Dataset015 script names no licence)"),
    license_status="unknown", split_unit="patient", modality="CT", body_part="chest", size="~80 GB",
    layout="RibFracN-image.nii.gz + RibFracN-label.nii.gz from the Part1/Part2/validation archives extracted into "
           "one folder; every non-zero label voxel is read as fracture (the codes 1 displaced, 2 non-displaced, 3 "
           "buckle, 4 segmental, -1 unclassified are per fracture, listed in ribfrac-*-info.csv, not read)",
    layout_confirmed_at=NNUNET + "Dataset015_018_RibFrac_RibSeg.py ('Extract EVERYTHING into one folder', "
                        "<id>-image.nii.gz / <id>-label.nii.gz, test images have no label; label codes 1-4 and -1)",
    labels={"fracture": Label(target="rib fracture", body_part="chest", kind="lesion")},
    reader=PairedFileReader(image_glob="**/RibFrac*-image.nii.gz", image_suffix="-image.nii.gz",
                            label_suffix="-label.nii.gz", patient_regex=r"^(RibFrac\d+)-", any_value_label="fracture"),
    window="bone", laterality_known=True,
    instructions="Register at https://ribfrac.grand-challenge.org/, download the training Part1, Part2 and "
                 "validation image and label archives, extract them all into one folder (not the test images: they "
                 "have no labels); --source ribfrac=/data/RibFrac",
    notes="All fractures are one target ('rib fracture'); their types (info CSV) are not used yet.",
)

# ----------------------------------------------------------------------------------------------------- autoPET
AUTOPET = SourceEntry(
    key="autopet-fdg", name="autoPET / FDG-PET-CT-Lesions (whole-body FDG PET, lesion masks; NIfTI release)",
    homepage="https://autopet-ii.grand-challenge.org/",
    citation="Gatidis S. et al. A whole-body FDG-PET/CT Dataset with manually annotated Tumor Lesions. Sci Data 9, "
             "601 (2022). doi:10.1038/s41597-022-01718-3; TCIA doi:10.7937/gkr0-xv29",
    license="CC-BY-4.0", license_url=(
        "NCI Imaging Data Commons index (idc-index-data 25.0.5, idc_index.parquet: collection fdg_pet_ct_lesions, "
        "source_DOI 10.7937/gkr0-xv29, license_short_name 'CC BY 4.0' on all 1,014 CT, PT and SEG series); the "
        "NIfTI conversion is of the same TCIA collection"),
    license_status="stated", split_unit="patient", modality="PET", body_part="whole body", size="~300 GB",
    layout="FDG-PET-CT-Lesions/PETCT_<id>/<study>/{CTres.nii.gz, SUV.nii.gz, SEG.nii.gz (0/1 lesion), CT.nii.gz, "
           "PET.nii.gz}; the SUV volume is read; pass the folder holding the PETCT_* folders",
    layout_confirmed_at=NNUNET + "Dataset221_AutoPETII_2023.py (PETCT_* patient folders, one sub-folder per "
                        "acquisition with CTres.nii.gz, SUV.nii.gz and SEG.nii.gz; labels background 0, tumor 1)",
    labels={"1": Label(target="FDG-avid lesion", body_part="whole body", kind="lesion")},
    reader=CaseFolderReader(case_glob="PETCT_*/*", image_name="SUV.nii.gz", label_name="SEG.nii.gz"),
    window="5,10", laterality_known=True,
    instructions="Download the NIfTI release of FDG-PET-CT-Lesions linked from https://autopet-ii.grand-challenge.org/ "
                 "(TCIA, doi:10.7937/gkr0-xv29) and extract; --source autopet-fdg=/data/FDG-PET-CT-Lesions",
    notes="Rendered from SUV with a fixed 0-10 SUV window (centre 5, width 10); one patient may have several studies (split by patient).",
)

# --------------------------------------------------------------------------------------------------- ISLES 2022
_TORCH_EM_ISLES = ("constantinpape/torch-em@6f71247c0bde24cb050bb25501ca61517ce08b7f:torch_em/data/datasets/medical/"
                   "isles.py")
ISLES22 = SourceEntry(
    key="isles22", name="ISLES 2022: acute and sub-acute ischemic stroke lesions on MRI (DWI, training set)",
    homepage="https://www.isles-challenge.org/",
    citation="Hernandez Petzsche M.R. et al. ISLES 2022: A multi-center magnetic resonance imaging stroke lesion "
             "segmentation dataset. Sci Data 9, 762 (2022). doi:10.1038/s41597-022-01875-5; data: Zenodo "
             "doi:10.5281/zenodo.7153326",
    license="LicenseRef-ISLES-2022-unread", license_url=(
        "https://doi.org/10.5281/zenodo.7153326 (not read: the record's licence could not be read here, nor a "
        "statement in the Sci Data paper's pages that were read)"),
    license_status="unknown", split_unit="patient", modality="MR", body_part="brain", size="~1.4 GB",
    layout="ISLES-2022/sub-strokecaseNNNN/ses-0001/{dwi/sub-strokecaseNNNN_ses-0001_{dwi,adc}.nii.gz, anat/"
           "..._FLAIR.nii.gz} + ISLES-2022/derivatives/sub-strokecaseNNNN/ses-0001/sub-strokecaseNNNN_ses-0001_msk"
           ".nii.gz (lesion 1, in the DWI's space); the DWI is read; pass the ISLES-2022/ folder",
    layout_confirmed_at=_TORCH_EM_ISLES + " (ISLES-2022.zip from zenodo.org/records/7960856 with sha256, "
                        "sub-*/**/dwi/*_dwi.nii.gz and *_adc.nii.gz, derivatives/sub-*/**/*.nii.gz); the mask's full "
                        "name derivatives/<sub>/ses-0001/<sub>_ses-0001_msk.nii.gz in several loaders in public GitHub "
                        "code (find_string '_ses-0001_msk.nii.gz')",
    labels={"1": Label(target="ischemic stroke lesion", body_part="brain", kind="lesion")},
    reader=PairedFileReader(image_glob="sub-strokecase*/ses-0001/dwi/*_dwi.nii.gz", image_suffix="_dwi.nii.gz",
                            label_template="derivatives/{subject}/ses-0001/{base}_msk.nii.gz",
                            patient_regex=r"^(sub-strokecase\d+)_"),
    downloads=(Download(url="https://zenodo.org/records/7960856/files/ISLES-2022.zip", filename="ISLES-2022.zip",
                        checksum="sha256:f374895e383f725ddd280db41ef36ed975277c33de0e587a631ca7ea7ad45d6b",
                        checksum_source=_TORCH_EM_ISLES + " CHECKSUM"),),
    laterality_known=True,
    instructions="unzip ISLES-2022.zip; --source isles22=/data/ISLES-2022",
    notes="Licence not read: annotations with pointers only until it is read at the Zenodo record.",
)

# --------------------------------------------------------------------------------------------------- ISLES'24
_BIDS_HUB_ISLES24 = ("The-Obstacle-Is-The-Way/bids-hub@4ca6c6a2cfbbd6ab29de69ae798d84718a655c93:src/bids_hub/datasets/"
                     "isles24.py")
_ISLES24_README = "ezequieldlrosa/isles24@0fe116e10e6543da1db7154caa2a071f3a9fc77c:README.md"
ISLES24 = SourceEntry(
    key="isles24", name="ISLES'24: final infarct on the follow-up DWI, co-registered to the admission CT (training "
                        "set)",
    homepage="https://isles-24.grand-challenge.org/",
    citation="Riedel E.O., de la Rosa E. et al. ISLES'24 - A Real-World Longitudinal Multimodal Stroke Dataset. "
             "arXiv:2408.11142 (2024); data: Zenodo record 16748089 (doi:10.5281/zenodo.16748089)",
    license="CC-BY-NC-SA-4.0", license_status="conflicting", license_url=(
        "https://zenodo.org/records/16748089 (CC BY-NC-SA 4.0, as the cards of two Hub copies state it for this "
        "record, Angelou0516/isles2024 and hugging-science/isles24-stroke; the record's own licence field was not "
        "read here) against " + _ISLES24_README + " ('License': 'The dataset is released under the CC BY-NC "
        "(Attribution-NonCommercial) license', plus the challenge's data usage policy after opendata.swiss). Both "
        "forbid commercial use; they differ on share-alike, so the stricter one is recorded"),
    split_unit="patient", modality="MR", body_part="brain", size="~99 GB (train.7z)",
    layout="train/{raw_data/sub-strokeNNNN/ses-01/sub-strokeNNNN_ses-01_{ncct,cta,ctp}.nii.gz, derivatives/"
           "sub-strokeNNNN/ses-01/{perfusion-maps/sub-strokeNNNN_ses-01_space-ncct_{tmax,mtt,cbf,cbv}.nii.gz, "
           "sub-strokeNNNN_ses-01_space-ncct_{cta,ctp,lvo-msk,cow-msk}.nii.gz}, derivatives/sub-strokeNNNN/ses-02/"
           "sub-strokeNNNN_ses-02_space-ncct_{dwi,adc,lesion-msk}.nii.gz, phenotype/...}; the follow-up DWI in "
           "NCCT space is read with the lesion mask beside it (value 1); pass the train/ folder",
    layout_confirmed_at=(
        _BIDS_HUB_ISLES24 + " ('Zenodo v7 Structure': train/raw_data/sub-stroke0001/ses-01/, derivatives/<sub>/"
        "ses-01/perfusion-maps/*_space-ncct_tmax.nii.gz, derivatives/<sub>/ses-02/*_space-ncct_{dwi,adc,lesion-"
        "msk}.nii.gz; the loader reads v7, record 17652035); public ISLES'24 loaders found by find_string "
        "'space-ncct_lesion-msk' (derivatives/<case>/ses-02/<case>_ses-02_space-ncct_lesion-msk.nii.gz); the Hub "
        "copy Angelou0516/isles2024's card (149 cases sub-stroke0001..0189, a stray native-space "
        "sub-stroke0142_ses-02_lesion-msk.nii, not read here). Not confirmed: the archive's listing itself, and "
        "that v2 (record 16748089) names files as v7 does; the record's description and " + _ISLES24_README +
        " name an earlier scheme (sub-strokecase0001/ses-0001) that the loaders say the archive does not use"),
    labels={"1": Label(target="ischemic stroke lesion", body_part="brain", kind="lesion")},
    reader=PairedFileReader(image_glob="derivatives/sub-stroke*/ses-02/*_space-ncct_dwi.nii.gz",
                            image_suffix="_space-ncct_dwi.nii.gz", label_suffix="_space-ncct_lesion-msk.nii.gz",
                            patient_regex=r"^(sub-stroke\d+)_"),
    downloads=(Download(url="https://zenodo.org/records/16748089/files/train.7z?download=1", filename="train.7z"),),
    laterality_known=True,
    instructions="extract train.7z (7-Zip: 7z x train.7z); --source isles24=/data/train",
    notes="The infarct was drawn on follow-up MRI (2-9 days after admission) and co-registered to the admission "
          "CT: rows show the follow-up DWI in that space, where the lesion is visible (on the acute CT it mostly is "
          "not yet; predicting it there is the challenge's task, not a grounding question). The 98 test cases are "
          "not public. Licence conflicting (CC BY-NC-SA 4.0 at the record per Hub copies, CC BY-NC in the "
          "challenge README): annotations with pointers only. No checksum is published in what was read.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (AMOS_CT, AMOS_MR, ABDOMENATLAS, TOTALSEGMENTATOR_MRI, ACDC, RIBFRAC, AUTOPET, ISLES22, ISLES24,)
