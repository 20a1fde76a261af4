"""2D image/mask sources: endoscopy, dermoscopy, ultrasound, fundus, chest radiographs."""

from __future__ import annotations

from vgmed_data.builders.entry import Download, Label, SourceEntry
from vgmed_data.builders.readers.image_mask import ImageMaskReader, MaskFile

KVASIR_SEG = SourceEntry(
    key="kvasir-seg", name="Kvasir-SEG: segmented polyp dataset", homepage="https://datasets.simula.no/kvasir-seg/",
    citation="Jha D. et al. Kvasir-SEG: A Segmented Polyp Dataset. MMM 2020. doi:10.1007/978-3-030-37734-2_37",
    license="LicenseRef-Kvasir-SEG-research-education", license_url=(
        "https://github.com/DebeshJha/Kvasir-SEG (authors' README @1a281486b26c4652af8218c5ffc8962ad5b69004: no "
        "prior permission needed for academic and research use, prior permission needed for commercial use; "
        "redistribution of the images is not addressed)"),
    license_status="stated", split_unit="image", modality="ENDOSCOPY", body_part="colon", size="46 MB",
    layout="Kvasir-SEG/images/<id>.jpg + Kvasir-SEG/masks/<id>.jpg (same name; JPEG, polyp white) + "
           "kavsir_bboxes.json; pass the Kvasir-SEG/ folder",
    layout_confirmed_at="DebeshJha/Kvasir-SEG@1a281486b26c4652af8218c5ffc8962ad5b69004:README.md (images and masks in "
                        "separate folders, same file name for an image and its mask, boxes in a JSON file); folder "
                        "and file names Kvasir-SEG/{images,masks}/<id>.jpg + kavsir_bboxes.json (keyed by image id "
                        "without extension, with a 'bbox' list) from loaders in GitHub code (find_string "
                        "'kavsir_bboxes.json'); the official zip itself was not opened",
    labels={"polyp": Label(target="polyp", body_part="colon", kind="lesion")},
    reader=ImageMaskReader(image_globs=("images/*.jpg",),
                           masks=(MaskFile(label="polyp", template="masks/{name}", threshold=127),)),
    downloads=(Download(url="https://datasets.simula.no/downloads/kvasir-seg.zip", filename="kvasir-seg.zip"),),
    instructions="unzip kvasir-seg.zip; --source kvasir-seg=/data/Kvasir-SEG. Use is restricted to research and "
                 "education; images may not be redistributed (publish annotations only).",
    notes="HyperKvasir's 1,000 segmented images (source hyperkvasir-seg, same group, same box-file shape) are "
          "probably these images; not confirmed by hash here. Its licence is itself conflicting (CC BY 4.0 file vs "
          "research-only terms in its README), so building from it does not make the images publishable.",
)

ISIC2018 = SourceEntry(
    key="isic2018-task1", name="ISIC 2018 Task 1: lesion boundary segmentation",
    homepage="https://challenge.isic-archive.com/data/#2018",
    citation="Codella N. et al. Skin Lesion Analysis Toward Melanoma Detection 2018. arXiv:1902.03368; "
             "Tschandl P. et al. The HAM10000 dataset. Sci Data 5, 180161 (2018)",
    license="CC-BY-NC-4.0", license_url=(
        "https://challenge.isic-archive.com/data/#2018 (not confirmed: the licence text on this page could not be "
        "read; CC BY-NC 4.0 is what the secondary catalogue datasetninja.com/isic-challenge-2018 states)"),
    license_status="secondary", split_unit="image", modality="DERMOSCOPY", body_part="skin", size="11 GB",
    layout="ISIC2018_Task1-2_{Training,Validation,Test}_Input/ISIC_XXXXXXX.jpg + "
           "ISIC2018_Task1_{Training,Validation,Test}_GroundTruth/ISIC_XXXXXXX_segmentation.png (0/255)",
    layout_confirmed_at="kovmartin/DD2424VT191_Group90 DOWNLOAD_DATASET.md; JiaxinZhuang/Skin-Lesion-Recognition."
                        "Pytorch README (folder names); ISIC_<id>_segmentation.png naming from "
                        "challenge.isic-archive.com/data/#2018",
    labels={"lesion": Label(target="skin lesion", body_part="skin", kind="lesion")},
    reader=ImageMaskReader(image_globs=("ISIC2018_Task1-2_*_Input/ISIC_*.jpg",),
                           masks=(MaskFile(label="lesion", template="ISIC2018_Task1_*_GroundTruth/{stem}_segmentation.png",
                                           multi=True, threshold=127),)),
    downloads=(Download(url="https://isic-challenge-data.s3.amazonaws.com/2018/ISIC2018_Task1-2_Training_Input.zip",
                        filename="ISIC2018_Task1-2_Training_Input.zip"),
               Download(url="https://isic-challenge-data.s3.amazonaws.com/2018/ISIC2018_Task1_Training_GroundTruth.zip",
                        filename="ISIC2018_Task1_Training_GroundTruth.zip")),
    instructions="unzip both archives into one folder; --source isic2018-task1=/data/isic2018",
    notes="ISIC images carry no patient id in this layout; each image is its own patient for splitting. "
          "Marked not redistributable until the licence is confirmed at the ISIC challenge site.",
)

BUSI = SourceEntry(
    key="busi", name="BUSI: Breast Ultrasound Images Dataset",
    homepage="https://scholar.cu.edu.eg/?q=afahmy/pages/dataset",
    citation="Al-Dhabyani W. et al. Dataset of breast ultrasound images. Data in Brief 28, 104863 (2020). "
             "doi:10.1016/j.dib.2019.104863",
    license="LicenseRef-BUSI-unspecified", license_url=(
        "https://scholar.cu.edu.eg/?q=afahmy/pages/dataset (not confirmed: no dataset licence found; the Data in "
        "Brief article's open-access licence, doi:10.1016/j.dib.2019.104863, covers the article, not the images, "
        "and was not read; mirrors' labels (Kaggle 'CC0', Hugging Face 'other') are set by re-uploaders, and "
        "zekikus/MedSegBench@54fde021831ca89ab770096b9c2bec7de1c91957:medsegbench/info.py repeats the Kaggle "
        "mirror's 'CC0: Public Domain' (reference kaggle.com/datasets/aryashah2k/breast-ultrasound-images-dataset): "
        "a mirror's CC0 against nothing at the source)"),
    license_status="conflicting", split_unit="image", modality="US", body_part="breast", size="200 MB",
    layout="Dataset_BUSI_with_GT/{benign,malignant,normal}/<class> (N).png + <class> (N)_mask.png "
           "(+ <class> (N)_mask_1.png... when there are several lesions); normal/ has empty masks and is not read",
    layout_confirmed_at="GitHub code search: BUSI loaders reading Dataset_BUSI_with_GT/<grade>/'<grade> (*).png' "
                        "with '_mask.png' and '_mask_*.png' siblings (e.g. a BUSIProcessor get_data_points); "
                        "huggingface.co/datasets/Angelou0516/BUSI card (mirror: ids like 'benign (100)', extra "
                        "'_mask_N.png' files for multifocal lesions, 437 benign / 210 malignant / 133 normal). "
                        "Not confirmed at the authors' download itself",
    labels={"tumour": Label(target="breast lesion", body_part="breast", kind="lesion")},
    reader=ImageMaskReader(image_globs=("benign/* (*).png", "malignant/* (*).png"), exclude=r"_mask",
                           masks=(MaskFile(label="tumour", template="{dir}/{stem}_mask*.png", multi=True,
                                           threshold=127),),
                           category_from_dir=True),
    instructions="Download Dataset_BUSI_with_GT from the homepage (or its Kaggle mirror 'breast-ultrasound-images-"
                 "dataset'); --source busi=/data/Dataset_BUSI_with_GT. The licence is not stated by the authors: "
                 "images are treated as not redistributable.",
)

_IDRID_GT = "2. All Segmentation Groundtruths/*"
IDRID = SourceEntry(
    key="idrid-seg", name="IDRiD: Indian Diabetic Retinopathy Image Dataset, segmentation part",
    homepage="https://ieee-dataport.org/open-access/indian-diabetic-retinopathy-image-dataset-idrid",
    citation="Porwal P. et al. Indian Diabetic Retinopathy Image Dataset (IDRiD). Data 3(3), 25 (2018). "
             "doi:10.3390/data3030025",
    license="CC-BY-4.0", license_url="https://ieee-dataport.org/open-access/indian-diabetic-retinopathy-image-dataset-idrid",
    license_status="stated", split_unit="image", modality="FUNDUS", body_part="eye", size="420 MB",
    layout="A. Segmentation/1. Original Images/{a. Training Set,b. Testing Set}/IDRiD_NN.jpg + "
           "A. Segmentation/2. All Segmentation Groundtruths/<set>/{1. Microaneurysms/IDRiD_NN_MA.tif, "
           "2. Haemorrhages/IDRiD_NN_HE.tif, 3. Hard Exudates/IDRiD_NN_EX.tif, 4. Soft Exudates/IDRiD_NN_SE.tif, "
           "5. Optic Disc/IDRiD_NN_OD.tif}; pass the 'A. Segmentation' folder",
    layout_confirmed_at="https://idrid.grand-challenge.org/Data_Download/ (A. Segmentation.zip folder tree); folder "
                        "and file names also at constantinpape/torch-em@c6e1050427f5de6b743c2368b20955c6e8d66077:"
                        "torch_em/data/datasets/medical/idrid.py (TASKS '1. Microaneurysms'..'5. Optic Disc', "
                        "'a. Training Set'/'b. Testing Set', '<id>_<code>.tif' beside '1. Original Images/<set>/<id>.jpg')",
    labels={"MA": Label(target="microaneurysms", body_part="eye", kind="lesion"),
            "HE": Label(target="haemorrhages", body_part="eye", kind="lesion"),
            "EX": Label(target="hard exudates", body_part="eye", kind="lesion"),
            "SE": Label(target="soft exudates", body_part="eye", kind="lesion"),
            "OD": Label(target="optic disc", body_part="eye")},
    reader=ImageMaskReader(
        image_globs=("1. Original Images/*/IDRiD_*.jpg",),
        masks=tuple(MaskFile(label=code, template=f"{_IDRID_GT}/{folder}/{{stem}}_{code}.tif", multi=True,
                             required=False, threshold=0)
                    for code, folder in (("MA", "1. Microaneurysms"), ("HE", "2. Haemorrhages"),
                                         ("EX", "3. Hard Exudates"), ("SE", "4. Soft Exudates"),
                                         ("OD", "5. Optic Disc")))),
    instructions="Register at IEEE DataPort, download 'A. Segmentation.zip', unzip; "
                 "--source idrid-seg='/data/A. Segmentation'",
)

MONTGOMERY = SourceEntry(
    key="montgomery", name="Montgomery County chest X-ray set (lung masks)",
    homepage="https://lhncbc.nlm.nih.gov/LHC-publications/pubs/TuberculosisChestXrayImageDataSets.html",
    citation="Jaeger S. et al. Two public chest X-ray datasets for computer-aided screening of pulmonary diseases. "
             "Quant Imaging Med Surg 4(6), 475-477 (2014)",
    license="LicenseRef-NLM-public-data", license_url=(
        "https://data.lhncbc.nlm.nih.gov/public/Tuberculosis-Chest-X-ray-Datasets/Montgomery-County-CXR-Set/"
        "MontgomerySet/index.html (not confirmed: no licence or redistribution terms could be read from NLM pages; "
        "the set is described as made available by NLM in Jaeger et al. 2014, QIMS 4(6))"),
    license_status="unknown", split_unit="patient", modality="XR", body_part="chest", size="600 MB",
    layout="MontgomerySet/CXR_png/MCUCXR_NNNN_L.png + MontgomerySet/ManualMask/{leftMask,rightMask}/<same name> "
           "(patient's left/right lung) + ClinicalReadings/*.txt; pass MontgomerySet/",
    layout_confirmed_at="GitHub code search: loaders joining MontgomerySet/CXR_png, ManualMask/leftMask, "
                        "ManualMask/rightMask (e.g. Huxwell/lungs track.py). Not confirmed at NLM's own README "
                        "(the 0.0875 mm pixel spacing is also taken from it and not re-read here)",
    labels={"leftMask": Label(target="left lung", body_part="chest"),
            "rightMask": Label(target="right lung", body_part="chest")},
    reader=ImageMaskReader(image_globs=("CXR_png/MCUCXR_*.png",),
                           masks=(MaskFile(label="leftMask", template="ManualMask/leftMask/{name}"),
                                  MaskFile(label="rightMask", template="ManualMask/rightMask/{name}")),
                           patient_regex=r"^(MCUCXR_\d+)", spacing_mm=(0.0875, 0.0875), view="PA"),
    laterality_known=True,
    downloads=(Download(url="http://openi.nlm.nih.gov/imgs/collections/NLM-MontgomeryCXRSet.zip",
                        filename="NLM-MontgomeryCXRSet.zip"),),
    instructions="unzip NLM-MontgomeryCXRSet.zip; --source montgomery=/data/MontgomerySet",
    notes="Pixel spacing 0.0875 mm as stated in the set's README (NLM).",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (KVASIR_SEG, ISIC2018, BUSI, IDRID, MONTGOMERY,)
