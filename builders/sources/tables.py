"""Sources whose regions are boxes: NIH ChestX-ray14 (box table) and SLAKE (VQA set with per-image boxes)."""

from __future__ import annotations

from builders.entry import Label, SourceEntry, register
from builders.readers.box_table import BoxTableReader
from builders.readers.vqa import VqaBoxesReader

_FINDINGS = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltrate", "Mass", "Nodule", "Pneumonia", "Pneumothorax")

NIH_CXR14 = register(SourceEntry(
    key="nih-cxr14-bbox", name="NIH ChestX-ray14 bounding boxes (BBox_List_2017.csv, 984 images)",
    homepage="https://nihcc.app.box.com/v/ChestXray-NIHCC",
    citation="Wang X. et al. ChestX-ray8: Hospital-scale Chest X-ray Database and Benchmarks. CVPR 2017",
    license="LicenseRef-NIH-ChestXray14", license_url="https://nihcc.app.box.com/v/ChestXray-NIHCC (README_ChestXray.pdf: "
    "usage unrestricted, with acknowledgement and citation)",
    redistributable=True, modality="XR", body_part="chest", size="45 GB (images) + 90 KB (table)",
    layout="BBox_List_2017.csv (header 'Image Index,Finding Label,Bbox [x,y,w,h],,,'; x,y,w,h pixels of the "
           "1024x1024 PNG) + images/NNNNNNNN_NNN.png (from images_001..012.tar.gz); patient = first 8 digits",
    layout_confirmed_at="GitHub code: loaders reading columns 'Bbox [x','y','w','h]' of BBox_List_2017.csv and "
                        "sergeyshilin/xray-lightning data/README.md (BBox_List_2017.csv beside images/)",
    labels={name: Label(target=name.lower() if name != "Infiltrate" else "infiltrate", body_part="chest",
                        kind="other" if name == "Cardiomegaly" else "lesion") for name in _FINDINGS},
    reader=BoxTableReader(table="BBox_List_2017.csv", header_prefix=("Image Index", "Finding Label", "Bbox [x"),
                          image_column=0, label_column=1, box_columns=(2, 3, 4, 5), box_format="xywh",
                          image_glob="**/images/*.png", patient_regex=r"^(\d{8})_", view="frontal"),
    laterality_known=True,
    instructions="From https://nihcc.app.box.com/v/ChestXray-NIHCC download BBox_List_2017.csv and the images_*.tar.gz "
                 "archives (the batch_download_zips.py script there lists direct links); extract all archives into "
                 "one folder (each creates images/); --source nih-cxr14-bbox=/data/ChestX-ray14",
))

_SLAKE_LABELS = {
    name: Label(target=name.lower(), body_part=part, kind=kind) for name, part, kind in (
        ("Liver", "abdomen", "organ"), ("Spleen", "abdomen", "organ"), ("Kidney", "abdomen", "organ"),
        ("Left Kidney", "abdomen", "organ"), ("Right Kidney", "abdomen", "organ"), ("Stomach", "abdomen", "organ"),
        ("Pancreas", "abdomen", "organ"), ("Colon", "abdomen", "organ"), ("Small Bowel", "abdomen", "organ"),
        ("Duodenum", "abdomen", "organ"), ("Esophagus", "chest", "organ"), ("Bladder", "pelvis", "organ"),
        ("Rectum", "pelvis", "organ"), ("Prostate", "pelvis", "organ"), ("Femoral Head", "pelvis", "organ"),
        ("Heart", "chest", "organ"), ("Lung", "chest", "organ"), ("Left Lung", "chest", "organ"),
        ("Right Lung", "chest", "organ"), ("Trachea", "chest", "organ"), ("Spinal Cord", "chest", "organ"),
        ("Brain", "head", "organ"), ("Brain Edema", "head", "lesion"), ("Brain Tumor", "head", "lesion"),
        ("Brain Enhancing Tumor", "head", "lesion"), ("Brain Non-enhancing Tumor", "head", "lesion"),
        ("Eyes", "head", "organ"), ("Temporal Lobe", "head", "organ"), ("Liver Cancer", "abdomen", "lesion"),
        ("Lung Cancer", "chest", "lesion"), ("Cardiomegaly", "chest", "other"), ("Pneumothorax", "chest", "lesion"),
        ("Nodule", "chest", "lesion"), ("Mass", "chest", "lesion"), ("Effusion", "chest", "lesion"),
        ("Atelectasis", "chest", "lesion"), ("Infiltration", "chest", "lesion"), ("Pneumonia", "chest", "lesion"))}

SLAKE = register(SourceEntry(
    key="slake", name="SLAKE: semantically-labeled knowledge-enhanced medical VQA (English part; organ boxes)",
    homepage="https://www.med-vqa.com/slake/",
    citation="Liu B. et al. SLAKE: A Semantically-Labeled Knowledge-Enhanced Dataset for Medical Visual Question "
             "Answering. ISBI 2021. arXiv:2102.09542",
    license="CC-BY-4.0", license_url="https://huggingface.co/datasets/Voxel51/SLAKE (card: license cc-by-4.0)",
    redistributable=True, modality="mixed", body_part="", size="210 MB",
    layout="imgs/xmlabN/{source.jpg, mask.png, detection.json, question.json} + train.json, validate.json "
           "(validation.json in some copies), test.json; detection.json = [{\"<name>\": [x, y, w, h]}, ...]",
    layout_confirmed_at="Voxel51/SLAKE README on the Hugging Face Hub (imgs/xmlab0/detection.json 'organ bounding "
                        "boxes (absolute coordinates)'); SLAKE loaders reading imgs/<img_name> with img_name "
                        "'xmlab0/source.jpg', 'modality', 'location', 'q_lang' (GitHub code search); VGMED release "
                        "convention: Slake boxes are [x, y, w, h] (shared FACTS)",
    labels=_SLAKE_LABELS,
    reader=VqaBoxesReader(question_files=("train.json", "validate.json", "validation.json", "test.json"),
                          images_dir="imgs", boxes_file="detection.json",
                          modality_map={"CT": "CT", "MRI": "MR", "X-Ray": "XR"}),
    laterality_known=True,
    instructions="Download Slake1.0 from https://www.med-vqa.com/slake/ (Google Drive link) and unzip; "
                 "--source slake=/data/Slake1.0",
    notes="The detection.json name list is not documented; names outside the label map are bad input "
          "(counted under --on-bad skip). Each image is treated as its own patient.",
))
