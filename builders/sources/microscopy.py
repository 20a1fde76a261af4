"""Cells and nuclei: H&E nuclei (TNBC), light-microscopy nuclei (2018 Data Science Bowl), white blood cells."""

from __future__ import annotations

from vgmed_data.builders.entry import Download, Label, SourceEntry
from vgmed_data.builders.readers.image_mask import ImageMaskReader, MaskFile

_MEDSEGBENCH = "zekikus/MedSegBench@54fde021831ca89ab770096b9c2bec7de1c91957:medsegbench/info.py"
_TORCH_EM = "constantinpape/torch-em@6f71247c0bde24cb050bb25501ca61517ce08b7f:torch_em/data/datasets"

TNBC = SourceEntry(
    key="tnbc-nuclei", name="TNBC: nuclei in H&E triple-negative breast cancer tiles",
    homepage="https://zenodo.org/records/1175282",
    citation="Naylor P. et al. Segmentation of Nuclei in Histopathology Images by Deep Regression of the Distance "
             "Map. IEEE Trans Med Imaging 38(2), 448-459 (2019). doi:10.1109/TMI.2018.2865709",
    license="CC-BY-4.0", license_status="secondary", license_url=(
        f"{_MEDSEGBENCH} ('tnbcnuclei': 'CC BY 4.0', reference zenodo.org/records/2579118); the Zenodo record's "
        "licence field was not read"),
    split_unit="patient", modality="PATHOLOGY", body_part="breast", size="30 MB",
    layout="TNBC_NucleiSegmentation/Slide_NN/NN_M.png (RGBA tiles) + TNBC_NucleiSegmentation/GT_NN/NN_M.png "
           "(nuclei 255); __MACOSX/ beside it is ignored; pass TNBC_NucleiSegmentation/",
    layout_confirmed_at=f"{_TORCH_EM}/histopathology/tnbc.py (TNBC_NucleiSegmentation/Slide_*/*.png paired with "
                        "GT_*/*.png, the alpha channel dropped; URL and sha256 of TNBC_NucleiSegmentation.zip)",
    labels={"nuclei": Label(target="cell nuclei", body_part="breast", kind="other")},
    reader=ImageMaskReader(image_globs=("Slide_*/*.png",), path_regex=r"^Slide_(?P<patient>[^/]+)/",
                           masks=(MaskFile(label="nuclei", template="GT_{patient}/{name}", threshold=127),)),
    downloads=(Download(url="https://zenodo.org/records/1175282/files/TNBC_NucleiSegmentation.zip",
                        filename="TNBC_NucleiSegmentation.zip",
                        checksum="sha256:da708c3a988f4ad4b9bbb9283b387faf703f0bc0e5e689927306bd27ea13a57f",
                        checksum_source=f"{_TORCH_EM}/histopathology/tnbc.py (CHECKSUM)"),),
    instructions="unzip TNBC_NucleiSegmentation.zip; --source tnbc-nuclei=/data/TNBC_NucleiSegmentation",
    notes="Each Slide_NN folder is one slide; the tiles of a slide stay in one split (split unit: the slide's "
          "patient, one slide per patient as Naylor et al. describe it, not re-read here).",
)

DSB2018 = SourceEntry(
    key="dsb2018-nuclei", name="2018 Data Science Bowl (BBBC038) stage 1 training nuclei",
    homepage="https://www.kaggle.com/competitions/data-science-bowl-2018/data",
    citation="Caicedo J.C. et al. Nucleus segmentation across imaging experiments: the 2018 Data Science Bowl. "
             "Nat Methods 16, 1247-1253 (2019). doi:10.1038/s41592-019-0612-7",
    license="CC0-1.0", license_status="secondary", license_url=(
        f"{_MEDSEGBENCH} ('cellnuclei': 'CC0', reference the Kaggle competition data page); the Broad Bioimage "
        "Benchmark Collection page https://bbbc.broadinstitute.org/BBBC038 was not read"),
    split_unit="image", modality="MICROSCOPY", body_part="cell", size="380 MB",
    layout="stage1_train/<id>/images/<id>.png (RGBA) + stage1_train/<id>/masks/<mask id>.png (one binary file per "
           "nucleus; all are unioned); pass the folder holding stage1_train/",
    layout_confirmed_at=f"{_TORCH_EM}/light_microscopy/dsb.py (<id>/images/<id>.png with the alpha channel, "
                        "<id>/masks/* one file per instance); GitHub loaders reading stage1_train/{id}/images/{id}.png "
                        "and stage1_train/{id}/masks/*.png (find_string 'stage1_train/')",
    labels={"nucleus": Label(target="cell nuclei", body_part="cell", kind="other")},
    reader=ImageMaskReader(image_globs=("stage1_train/*/images/*.png",),
                           path_regex=r"^stage1_train/(?P<case>[^/]+)/images/(?P=case)\.png$",
                           masks=(MaskFile(label="nucleus", template="stage1_train/{case}/masks/*.png", multi=True,
                                           threshold=0),)),
    instructions="Sign in to Kaggle, accept the competition rules at "
                 "https://www.kaggle.com/competitions/data-science-bowl-2018/data, download stage1_train.zip "
                 "(`kaggle competitions download -c data-science-bowl-2018 -f stage1_train.zip`), unzip it into "
                 "stage1_train/; --source dsb2018-nuclei=/data/dsb2018",
)

WBC = SourceEntry(
    key="wbc-seg", name="White blood cell images (Zheng et al.): nucleus and cytoplasm",
    homepage="https://github.com/zxaoyou/segmentation_WBC",
    citation="Zheng X. et al. Fast and robust segmentation of white blood cell images by self-supervised learning. "
             "Micron 107, 55-71 (2018). doi:10.1016/j.micron.2018.01.010",
    license="GPL-3.0-only", license_status="conflicting", license_url=(
        "zxaoyou/segmentation_WBC@fa9c01622f52bccb9aeb8a6f2628f564e377767d:LICENSE (the GNU GPL v3 text, for the "
        f"repository that holds the images) vs {_MEDSEGBENCH} ('wbc': 'CC BY 4.0'); the README asks to acknowledge "
        "Jiangxi Tecom Science Corporation (Dataset 1) and the CellaVision blog (Dataset 2, images collected from a "
        "third party's blog)"),
    split_unit="image", other_split_units=("centre",), modality="MICROSCOPY", body_part="blood", size="20 MB",
    layout="Dataset 1/NNN.bmp (120x120) + Dataset 1/NNN.png, Dataset 2/NNN.bmp (300x300) + Dataset 2/NNN.png; the "
           "PNG is a grey label image: 255 nucleus, 128 cytoplasm, 0 background; pass the repository folder",
    layout_confirmed_at="zxaoyou/segmentation_WBC@fa9c01622f52bccb9aeb8a6f2628f564e377767d: file list (Dataset 1/"
                        "001.bmp + 001.png ...), README.rst (nuclei white, cytoplasm grey, background black; "
                        "Dataset 1 from Jiangxi Tecom, Dataset 2 from CellaVision), and the values 0/128/255 read "
                        "from 'Dataset 1/001.png', 'Dataset 1/150.png' and 'Dataset 2/001.png'",
    labels={"nucleus": Label(target="white blood cell nucleus", body_part="blood", kind="other"),
            "cytoplasm": Label(target="white blood cell cytoplasm", body_part="blood", kind="other")},
    reader=ImageMaskReader(
        image_globs=("Dataset */*.bmp",), path_regex=r"^(?P<centre>Dataset [12])/", group_units=("centre",),
        masks=(MaskFile(label="nucleus", template="{dir}/{stem}.png", threshold=None, value=255),
               MaskFile(label="cytoplasm", template="{dir}/{stem}.png", threshold=None, value=128))),
    downloads=(Download(url="https://github.com/zxaoyou/segmentation_WBC/archive/"
                            "fa9c01622f52bccb9aeb8a6f2628f564e377767d.zip",
                        filename="segmentation_WBC-fa9c01622f52bccb9aeb8a6f2628f564e377767d.zip"),),
    instructions="unzip the archive; --source wbc-seg=/data/segmentation_WBC-fa9c01622f52bccb9aeb8a6f2628f564e377767d",
    notes="The two datasets come from different sources (stain, camera, size): `--split-unit wbc-seg=centre` keeps "
          "each in one split.",
)

# MoNuSAC's classes as its annotation files name them; 'Macrophages' is written so in some files (the organisers'
# Mask_generation.ipynb output lists both spellings), 'Ambiguous' in the test set (MedSegBench's monusac labels).
_MONUSAC_CLASSES = (("Epithelial", "epithelial nuclei"), ("Lymphocyte", "lymphocytes"), ("Neutrophil", "neutrophils"),
                    ("Macrophage", "macrophages"), ("Macrophages", "macrophages"), ("Ambiguous", "ambiguous nuclei"))

MONUSAC = SourceEntry(
    key="monusac", name="MoNuSAC 2020: nuclei of four cell types in H&E tiles of four organs (training set)",
    homepage="https://monusac-2020.grand-challenge.org/Data/",
    citation="Verma R. et al. MoNuSAC2020: A Multi-Organ Nuclei Segmentation and Classification Challenge. IEEE "
             "Trans Med Imaging 40(12), 3413-3423 (2021). doi:10.1109/TMI.2021.3085712",
    license="CC-BY-NC-SA-4.0", license_status="secondary", license_url=(
        f"{_MEDSEGBENCH} ('monusac': 'CC BY-NC-SA 4.0', reference monusac-2020.grand-challenge.org/Data/); the "
        "challenge page itself was not read"),
    split_unit="patient", modality="PATHOLOGY", body_part="", size="1 GB",
    layout="MoNuSAC_images_and_annotations/<TCGA-XX-XXXX-01Z-00-DX1.<uuid>>/<TCGA-XX-XXXX-01Z-00-DX1-N>.{svs,tif,xml} "
           "(one folder per patient; the .tif is read, the .xml holds the polygons per class); pass "
           "MoNuSAC_images_and_annotations/",
    layout_confirmed_at="ruchikaverma-iitg/MoNuSAC@2cbc9bfb39240e663184f25f469da104bd1965bd:Mask_generation.ipynb "
                        "(patient folders TCGA-...-DX1.<uuid> holding <sub-image>.svs and <sub-image>.xml; XML "
                        "Annotation/Attributes/Attribute@Name = class, Regions/Region/Vertices/Vertex@X,Y); "
                        f"{_TORCH_EM}/histopathology/monusac.py (MoNuSAC*/<patient>/*.tif paired with *.xml, RGBA "
                        "tifs, patient id = the name before '-01Z-00-')",
    labels={name: Label(target=target, body_part="", kind="other") for name, target in _MONUSAC_CLASSES},
    reader=ImageMaskReader(
        image_globs=("*/TCGA-*.tif",), path_regex=r"^(?P<patient>TCGA-[0-9A-Z]{2}-[0-9A-Z]{4})-[^/]*/",
        masks=tuple(MaskFile(label=name, template="{dir}/{stem}.xml", threshold=None, polygon_class=name)
                    for name, _ in _MONUSAC_CLASSES)),
    instructions="Register at https://monusac-2020.grand-challenge.org/Data/ and download the training data "
                 "(MoNuSAC_images_and_annotations.zip), unzip; --source monusac=/data/MoNuSAC_images_and_annotations. "
                 "Non-commercial, share-alike licence: images are not published.",
    notes="Sub-images of one patient stay in one split. An annotation file naming a class outside the map (the "
          "organisers' output shows a 'Description' annotation on one sub-image) is bad input, counted under "
          "--on-bad skip. Sub-images with only an .svs (no .tif) are not read.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (TNBC, DSB2018, WBC, MONUSAC,)
