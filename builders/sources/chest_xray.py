"""Chest radiographs with lung and lesion masks beyond Montgomery: COVID-QU-Ex (lungs + COVID-19 infection)."""

from __future__ import annotations

from vgmed_data.builders.entry import Label, SourceEntry
from vgmed_data.builders.readers.image_mask import ImageMaskReader, MaskFile

_INFECTION = "Infection Segmentation Data/Infection Segmentation Data"

COVID_QU_EX = SourceEntry(
    key="covid-qu-ex", name="COVID-QU-Ex: chest X-rays with lung and COVID-19 infection masks (infection subset)",
    homepage="https://www.kaggle.com/datasets/anasmohammedtahir/covidqu",
    citation="Tahir A.M. et al. COVID-19 infection localization and severity grading from chest X-ray images. "
             "Comput Biol Med 139, 105002 (2021). doi:10.1016/j.compbiomed.2021.105002",
    license="CC-BY-SA-4.0", license_status="secondary", license_url=(
        "zekikus/MedSegBench@54fde021831ca89ab770096b9c2bec7de1c91957:medsegbench/info.py ('covidquex': 'CC BY-SA "
        "4.0', reference 10.34740/kaggle/dsv/3122958); the Kaggle page itself was not read"),
    split_unit="image", modality="XR", body_part="chest", size="1.2 GB",
    layout=f"{_INFECTION}/{{Train,Val,Test}}/COVID-19/images/<name>.png + .../COVID-19/lung masks/<name>.png + "
           ".../COVID-19/infection masks/<name>.png (0/255); the Non-COVID and Normal folders (empty infection "
           "masks) and 'Lung Segmentation Data' are not read; pass the folder holding 'Infection Segmentation Data'",
    layout_confirmed_at="constantinpape/torch-em@6f71247c0bde24cb050bb25501ca61517ce08b7f:torch_em/data/datasets/"
                        "medical/covid_qu_ex.py ('Infection Segmentation Data/Infection Segmentation Data/<Split>/"
                        "<COVID-19|Non-COVID|Normal>/{images,lung masks,infection masks}/*', image and mask lists "
                        "paired in sorted order); the same file name for an image and its masks (e.g. covid_1579.png) "
                        "from GitHub loaders (find_string 'Infection Segmentation Data/Infection Segmentation')",
    labels={"lung": Label(target="lungs", body_part="chest"),
            "infection": Label(target="COVID-19 infection", body_part="chest", kind="lesion")},
    reader=ImageMaskReader(
        image_globs=(f"{_INFECTION}/*/COVID-19/images/*.png",), path_regex=r"^(?P<base>.+)/images/[^/]+$",
        masks=(MaskFile(label="lung", template="{base}/lung masks/{name}", threshold=127),
               MaskFile(label="infection", template="{base}/infection masks/{name}", threshold=127))),
    instructions="Sign in to Kaggle, download https://www.kaggle.com/datasets/anasmohammedtahir/covidqu (or `kaggle "
                 "datasets download anasmohammedtahir/covidqu`), unzip; --source covid-qu-ex=/data/covidqu",
    notes="Only the 2,913 COVID-19 images of the infection subset are read: their infection masks are drawn. The "
          "release names no patient, so each image is its own split unit.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (COVID_QU_EX,)
