"""Retina: vessel masks on fundus photographs (DRIVE, CHASE_DB1) and cystoid fluid on OCT B-scans."""

from __future__ import annotations

from vgmed_data.builders.entry import Download, Label, SourceEntry
from vgmed_data.builders.readers.image_mask import ImageMaskReader, MaskFile

_VESSELS = {"vessel": Label(target="retinal vessels", body_part="eye", kind="organ")}
_MEDSEGBENCH = "zekikus/MedSegBench@54fde021831ca89ab770096b9c2bec7de1c91957:medsegbench/info.py"

DRIVE = SourceEntry(
    key="drive", name="DRIVE: Digital Retinal Images for Vessel Extraction (training set)",
    homepage="https://drive.grand-challenge.org/",
    citation="Staal J. et al. Ridge-based vessel segmentation in color images of the retina. IEEE Trans Med Imaging "
             "23(4), 501-509 (2004). doi:10.1109/TMI.2004.825627",
    license="CC-BY-4.0", license_status="secondary", license_url=(
        f"{_MEDSEGBENCH} ('drive': 'CC-BY-4.0'); not read at drive.grand-challenge.org (login)"),
    split_unit="image", modality="FUNDUS", body_part="eye", size="30 MB",
    layout="training/images/NN_training.tif + training/1st_manual/NN_manual1.gif (first observer's vessels) + "
           "training/mask/NN_training_mask.gif (field of view, not read); test/ has no public manual in the "
           "grand-challenge release and is not read; pass the folder holding training/",
    layout_confirmed_at="constantinpape/torch-em@6f71247c0bde24cb050bb25501ca61517ce08b7f:torch_em/data/datasets/"
                        "medical/drive.py (training/images/*.tif, training/1st_manual/*.gif);"
                        " t110368027/Medical_Segmentation_Benchmark@28b67cbae30c72009d603c3d6096d89b20d05051:"
                        "preprocess.py (mask of image 'NN_...' is 1st_manual/NN_manual1.gif)",
    labels=_VESSELS,
    reader=ImageMaskReader(
        image_globs=("training/images/*_training.tif",),
        path_regex=r"^training/images/(?P<key>\d+)_training\.tif$",
        masks=(MaskFile(label="vessel", template="training/1st_manual/{key}_manual1.gif", threshold=127),)),
    instructions="Register at https://drive.grand-challenge.org, download the training archive (training.zip), "
                 "unzip; --source drive=/data/DRIVE",
    notes="One photograph per subject in the training set, so each image is its own split unit.",
)

CHASE_DB1 = SourceEntry(
    key="chase-db1", name="CHASE_DB1: retinal vessel reference set (children, both eyes)",
    homepage="https://researchdata.kingston.ac.uk/96/",
    citation="Fraz M.M. et al. An ensemble classification-based approach applied to retinal blood vessel "
             "segmentation. IEEE Trans Biomed Eng 59(9), 2538-2548 (2012). doi:10.1109/TBME.2012.2205687",
    license="CC-BY-4.0", license_status="secondary", license_url=(
        "dataset-ninja/chase-db1@1dd1eac89b978770529e3a1c2001d9e28290d0ba:src/settings.py (License.CC_BY_4_0(), "
        f"homepage researchdata.kingston.ac.uk/96); {_MEDSEGBENCH} ('chasedb1': 'CC BY 4.0'); the Kingston "
        "record's own licence line was not read"),
    split_unit="patient", modality="FUNDUS", body_part="eye", size="3 MB",
    layout="Image_NN{L,R}.jpg + Image_NN{L,R}_1stHO.png (first observer, read) + Image_NN{L,R}_2ndHO.png (second "
           "observer, not read), all in one folder; NN = child, L/R = eye",
    layout_confirmed_at="dataset-ninja/chase-db1@1dd1eac89b978770529e3a1c2001d9e28290d0ba:src/convert.py (mask "
                        "'<image stem>_1stHO.png', vessel = 255) and src/settings.py (CHASEDB1.zip, readme.txt at "
                        "researchdata.kingston.ac.uk/96); GitHub loaders reading Image_01L.jpg beside "
                        "Image_01L_1stHO.png / _2ndHO.png in one folder (find_string '_1stHO.png')",
    labels=_VESSELS,
    reader=ImageMaskReader(image_globs=("Image_*.jpg",), patient_regex=r"^Image_(\d+)[LR]$",
                           masks=(MaskFile(label="vessel", template="{stem}_1stHO.png", threshold=127),)),
    downloads=(Download(url="https://researchdata.kingston.ac.uk/96/1/CHASEDB1.zip", filename="CHASEDB1.zip"),),
    instructions="unzip CHASEDB1.zip; --source chase-db1=/data/CHASEDB1 (the folder holding Image_01L.jpg)",
    notes="Both eyes of a child share the child's id, so a split never separates them.",
)

OCT_CYSTOID = SourceEntry(
    key="oct-cystoid-fluid", name="Intraretinal cystoid fluid on OCT B-scans (diabetic macular oedema)",
    homepage="https://www.kaggle.com/datasets/zeeshanahmed13/intraretinal-cystoid-fluid",
    citation="Ahmed Z. et al. Deep learning based automated detection of intraretinal cystoid fluid. Int J Imaging "
             "Syst Technol 32(3), 902-917 (2022). doi:10.1002/ima.22662",
    license="CC-BY-NC-SA-4.0", license_status="secondary", license_url=(
        "dataset-ninja/intraretinal-cystoid-fluid@3cb749ce001a19eb108053d567f19684951dc831:src/settings.py "
        f"(License.CC_BY_NC_SA_4_0()); {_MEDSEGBENCH} ('cystoidfluid': 'CC BY-NC-SA 4.0'); the Kaggle page itself "
        "was not read"),
    split_unit="image", modality="OCT", body_part="eye", size="300 MB",
    layout="2021-training-data-ZA/2021-training-data-ZA/<sample>/images/<sample>.jpeg + <sample>/masks/<mask file> "
           "(one per sample; the name is not the sample's); pass the inner 2021-training-data-ZA/ folder",
    layout_confirmed_at="dataset-ninja/intraretinal-cystoid-fluid@3cb749ce001a19eb108053d567f19684951dc831:"
                        "src/convert.py (<root>/*/*/*.jpeg images, the mask = the file in the sibling masks/ folder); "
                        "constantinpape/torch-em@246d59de00ab126c0df4a42100824f551d1d15ee:torch_em/data/datasets/"
                        "medical/intraretinal_cystoid_fluid.py (2021-training-data-ZA/2021-training-data-ZA/"
                        "<sample>/{images,masks}/; sample '815DME_F' also holds another sample's 'MASK-DME511.png')",
    labels={"fluid": Label(target="intraretinal cystoid fluid", body_part="eye", kind="lesion")},
    reader=ImageMaskReader(
        image_globs=("*/images/*.jpeg",), path_regex=r"^(?P<sample>[^/]+)/images/[^/]+$",
        masks=(MaskFile(label="fluid", template="{sample}/masks/*", multi=True, threshold=127),)),
    instructions="Sign in to Kaggle, download https://www.kaggle.com/datasets/zeeshanahmed13/intraretinal-cystoid-fluid "
                 "(or `kaggle datasets download zeeshanahmed13/intraretinal-cystoid-fluid`), unzip; "
                 "--source oct-cystoid-fluid=/data/2021-training-data-ZA/2021-training-data-ZA. Non-commercial, "
                 "share-alike licence: images are not published.",
    notes="Every file in a sample's masks/ folder is unioned; the stray MASK-DME511.png in 815DME_F is therefore "
          "included there (torch-em drops it by name prefix). Sample folders are not tied to patients in any "
          "published file, so each image is its own split unit.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (DRIVE, CHASE_DB1, OCT_CYSTOID,)
