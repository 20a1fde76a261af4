"""Sources whose regions are boxes: NIH ChestX-ray14 (box table) and SLAKE (VQA set with per-image boxes)."""

from __future__ import annotations

from vgmed_data.builders.entry import Label, SourceEntry
from vgmed_data.builders.readers.box_table import BoxTableReader
from vgmed_data.builders.readers.vqa import VqaBoxesReader

_FINDINGS = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltrate", "Mass", "Nodule", "Pneumonia", "Pneumothorax")

NIH_CXR14 = SourceEntry(
    key="nih-cxr14-bbox", name="NIH ChestX-ray14 bounding boxes (BBox_List_2017.csv, 984 images)",
    homepage="https://nihcc.app.box.com/v/ChestXray-NIHCC",
    citation="Wang X. et al. ChestX-ray8: Hospital-scale Chest X-ray Database and Benchmarks. CVPR 2017",
    license="LicenseRef-NIH-ChestXray14", license_url=(
        "https://cloud.google.com/healthcare-api/docs/resources/public-datasets/nih-chest ('License and attribution': "
        "no restrictions on the use of the NIH chest x-ray images; link to https://nihcc.app.box.com/v/ChestXray-NIHCC, "
        "cite the CVPR 2017 paper, acknowledge the NIH Clinical Center as data provider). The NIH Box README itself "
        "was not read (not confirmed there)"),
    license_status="secondary", split_unit="patient", modality="XR", body_part="chest",
    size="45 GB (images) + 90 KB (table)",
    layout="BBox_List_2017.csv (header 'Image Index,Finding Label,Bbox [x,y,w,h],,,'; x,y,w,h pixels of the "
           "1024x1024 PNG) + images/NNNNNNNN_NNN.png (from images_001..012.tar.gz); patient = first 8 digits",
    layout_confirmed_at="GitHub code: loaders reading columns 'Bbox [x','y','w','h]' of BBox_List_2017.csv and "
                        "sergeyshilin/xray-lightning data/README.md (BBox_List_2017.csv beside images/). Not re-confirmed "
                        "in this pass: the trailing unnamed columns of the header (not read from the NIH file itself)",
    labels={name: Label(target=name.lower() if name != "Infiltrate" else "infiltrate", body_part="chest",
                        kind="other" if name == "Cardiomegaly" else "lesion") for name in _FINDINGS},
    reader=BoxTableReader(table="BBox_List_2017.csv", header_prefix=("Image Index", "Finding Label", "Bbox [x"),
                          image_column=0, label_column=1, box_columns=(2, 3, 4, 5), box_format="xywh",
                          image_glob="**/images/*.png", patient_regex=r"^(\d{8})_", view="frontal"),
    laterality_known=True,
    instructions="From https://nihcc.app.box.com/v/ChestXray-NIHCC download BBox_List_2017.csv and the images_*.tar.gz "
                 "archives (the batch_download_zips.py script there lists direct links); extract all archives into "
                 "one folder (each creates images/); --source nih-cxr14-bbox=/data/ChestX-ray14",
)

# Names of the 39 structures in SLAKE's mask.txt (grey value in mask.png -> name; BoKelvin/SLAKE@644f170:mask.txt),
# plus names that may appear only in detection.json (chest X-ray findings: "Atelectasis" is seen in a copy of
# xmlab169/detection.json; the others are not confirmed and are kept so that they map if present).
_SLAKE_LABELS = {
    name: Label(target=name.lower(), body_part=part, kind=kind) for name, part, kind in (
        # mask.txt names
        ("Left Humerus Head", "chest", "organ"), ("Right Humerus Head", "chest", "organ"), ("Larynx", "neck", "organ"),
        ("Right Femoral Head", "pelvis", "organ"), ("Left Femoral Head", "pelvis", "organ"),
        ("Brain Stem", "head", "organ"), ("Duodenum", "abdomen", "organ"), ("Tooth", "head", "organ"),
        ("Liver", "abdomen", "organ"), ("Trachea", "chest", "organ"), ("Left Eye", "head", "organ"),
        ("Right Eye", "head", "organ"), ("Brain Edema", "head", "lesion"), ("Rectum", "pelvis", "organ"),
        ("Esophagus", "chest", "organ"), ("Left Ear", "head", "organ"), ("Bladder", "pelvis", "organ"),
        ("Right Ear", "head", "organ"), ("Left Kidney", "abdomen", "organ"),
        ("Brain Non-enhancing Tumor", "head", "lesion"), ("Spinal Cord", "chest", "organ"),
        ("Kidney Cancer", "abdomen", "lesion"), ("Right Kidney", "abdomen", "organ"),
        ("Left Temporal Lobe", "head", "organ"), ("Stomach", "abdomen", "organ"),
        ("Right Temporal Lobe", "head", "organ"), ("Liver Cancer", "abdomen", "lesion"), ("Heart", "chest", "organ"),
        ("Brain Enhancing Tumor", "head", "lesion"), ("Left Mandible", "head", "organ"),
        ("Small Bowel", "abdomen", "organ"), ("Right Mandible", "head", "organ"), ("Left Lung", "chest", "organ"),
        ("Right Lung", "chest", "organ"), ("Spleen", "abdomen", "organ"), ("Colon", "abdomen", "organ"),
        ("Left Parotid", "head", "organ"), ("Lung Cancer", "chest", "lesion"), ("Right Parotid", "head", "organ"),
        # detection.json-only names (chest X-ray findings; only "Atelectasis" seen in a released file)
        ("Atelectasis", "chest", "lesion"), ("Cardiomegaly", "chest", "other"), ("Pneumothorax", "chest", "lesion"),
        ("Nodule", "chest", "lesion"), ("Mass", "chest", "lesion"), ("Effusion", "chest", "lesion"),
        ("Infiltration", "chest", "lesion"), ("Pneumonia", "chest", "lesion"),
        # generic names kept in case detection.json uses them (not confirmed)
        ("Kidney", "abdomen", "organ"), ("Lung", "chest", "organ"), ("Pancreas", "abdomen", "organ"),
        ("Prostate", "pelvis", "organ"), ("Brain", "head", "organ"), ("Brain Tumor", "head", "lesion"))}

SLAKE = SourceEntry(
    key="slake", name="SLAKE: semantically-labeled knowledge-enhanced medical VQA (English part; organ boxes)",
    homepage="https://www.med-vqa.com/slake/",
    citation="Liu B. et al. SLAKE: A Semantically-Labeled Knowledge-Enhanced Dataset for Medical Visual Question "
             "Answering. ISBI 2021. arXiv:2102.09542",
    license="CC-BY-4.0", license_url="https://huggingface.co/datasets/BoKelvin/SLAKE (card front matter 'license: "
    "cc-by-4.0'; the card links the project page and names Bo Liu, first author, as contact)",
    license_status="stated", split_unit="image", modality="mixed", body_part="", size="210 MB",
    layout="imgs/xmlabN/{source.jpg, mask.png, detection.json, question.json} + train.json, validate.json "
           "(renamed validation.json on the authors' Hugging Face copy), test.json, mask.txt, KG.zip; QA files are "
           "lists of {img_id, img_name ('xmlabN/source.jpg'), question, answer, q_lang ('en'/'zh'), location, "
           "modality, answer_type, base_type, content_type, triple, qid}; detection.json = [{\"<name>\": "
           "[x, y, w, h]}, ...] (floats, pixels of source.jpg); mask.png = one grey value per structure, values "
           "listed in mask.txt as '<value>:<name>' (30:Left Humerus Head ... 250:Right Parotid, 39 lines)",
    layout_confirmed_at="https://huggingface.co/datasets/BoKelvin/SLAKE (authors' upload) @644f1706f5d9954e10a5e23c4cd"
                        "732a03d103e89: mask.txt, train.json, validate.json, test.json at the root; imgs.zip and KG.zip "
                        "@be157e9; validate.json renamed validation.json @b2eb8c5. Per-image files (source.jpg, mask.png, "
                        "detection.json, question.json) and the detection.json shape ([{\"Atelectasis\": [212.0, "
                        "587.0, 247.0, 201.0]}] in xmlab169) from the copy huggingface.co/datasets/MiniMedMind/SLAKE_en "
                        "(images/xmlabN/). QA keys: the 12 columns listed by the Hub's json builder for SLAKE copies "
                        "(WOOJYE/ccpo_slake, michel-ducartier/SLAKE_binary card) and loaders reading validate.json with "
                        "img_id/qid/q_lang/location/img_name (GitHub code). Box order x, y, w, h: VGMED release "
                        "convention for Slake images (shared FACTS), not stated by the SLAKE authors. Not confirmed: "
                        "the full list of names used in detection.json, and the modality spellings ('CT', 'MRI', "
                        "'X-Ray') beyond public loaders",
    labels=_SLAKE_LABELS,
    reader=VqaBoxesReader(question_files=("train.json", "validate.json", "validation.json", "test.json"),
                          images_dir="imgs", boxes_file="detection.json",
                          modality_map={"CT": "CT", "MRI": "MR", "X-Ray": "XR"}),
    laterality_known=True,
    instructions="Download Slake1.0 from https://www.med-vqa.com/slake/ (Google Drive link) and unzip, or download "
                 "train.json, validation.json, test.json, mask.txt and imgs.zip from "
                 "https://huggingface.co/datasets/BoKelvin/SLAKE and unzip imgs.zip beside them; "
                 "--source slake=/data/Slake1.0",
    notes="Regions come from detection.json boxes; mask.png (grey values per mask.txt) is not read yet. The "
          "detection.json name list is not documented; names outside the label map are bad input (counted under "
          "--on-bad skip). Each image is treated as its own patient.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (NIH_CXR14, SLAKE,)
