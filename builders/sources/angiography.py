"""X-ray coronary angiography (modality ``XA``): vessel masks from CHUAC and DCA1."""

from __future__ import annotations

from vgmed_data.builders.entry import Download, Label, SourceEntry
from vgmed_data.builders.readers.image_mask import ImageMaskReader, MaskFile

_ARTERIES = {"vessel": Label(target="coronary arteries", body_part="heart")}
_MEDSEGBENCH = "zekikus/MedSegBench@54fde021831ca89ab770096b9c2bec7de1c91957:medsegbench/info.py"

CHUAC = SourceEntry(
    key="chuac", name="CHUAC: coronary angiograms with vessel masks (A Coruna university hospital)",
    homepage="https://figshare.com/s/4d24cf3d14bc901a94bf",
    citation="Carballal A. et al. Automatic multiscale vascular image segmentation algorithm for coronary "
             "angiography. Biomed Signal Process Control 46, 1-9 (2018)",
    license="CC-BY-4.0", license_status="secondary", license_url=(
        f"{_MEDSEGBENCH} ('chuac': 'CC BY 4.0', reference the figshare link); the figshare record itself was not "
        "read"),
    split_unit="image", modality="XA", body_part="heart", size="10 MB",
    layout="Original/N.png (N = 1..30) + Photoshop/angioNok.png (angio11ok.PNG .. angio17ok.PNG upper-case), the "
           "masks at 512x512, larger than the images; Hemotool/ (another tracing) is not read; pass the folder "
           "holding Original/ and Photoshop/",
    layout_confirmed_at="t110368027/Medical_Segmentation_Benchmark@28b67cbae30c72009d603c3d6096d89b20d05051:README.md "
                        "(angiography/{Hemotool/angio1.png_mask.png, Original/1.png, Photoshop/angio1ok.png}) and "
                        "preprocess.py (mask of N.png is Photoshop/angio<N>ok.png, '.PNG' for 11-17; images resized "
                        "to 512x512 to match the masks); a public DatasetCHUAC loader (find_string 'class "
                        "DatasetCHUAC': same names, image resized to 512 before pairing)",
    labels=_ARTERIES,
    reader=ImageMaskReader(image_globs=("Original/*.png",), masks=(
        MaskFile(label="vessel", template="Photoshop/angio{stem}ok.[pP][nN][gG]", multi=True, threshold=0,
                 resample=True),)),
    instructions="Open https://figshare.com/s/4d24cf3d14bc901a94bf, download the files (Original/, Photoshop/), "
                 "keep their folders; --source chuac=/data/angiography",
    notes="The masks are resampled (nearest neighbour) to the image size: boxes and areas are in the image's own "
          "pixels, thin vessels may lose a pixel of width. The image size was not read at the source (loaders "
          "resize the images to the masks' 512x512).",
)

DCA1 = SourceEntry(
    key="dca1", name="DCA1: 134 X-ray coronary angiograms with expert vessel masks",
    homepage="http://personal.cimat.mx:8181/~ivan.cruz/DB_Angiograms.html",
    citation="Cervantes-Sanchez F. et al. Automatic Segmentation of Coronary Arteries in X-ray Angiograms using "
             "Multiscale Analysis and Artificial Neural Networks. Appl Sci 9(24), 5507 (2019). doi:10.3390/app9245507",
    license="LicenseRef-DCA1-research-comparison", license_status="secondary", license_url=(
        f"{_MEDSEGBENCH} ('dca1': 'This database represents the first set of angiograms and ground-truth images made "
        "accessible to the scientific community for research and comparison purposes', from the homepage); no "
        "licence terms beyond that statement, and the homepage was not read here"),
    split_unit="image", modality="XA", body_part="heart", size="10 MB",
    layout="Database_134_Angiograms/N.pgm (300x300 grey) + Database_134_Angiograms/N_gt.pgm (vessels >= 100) in one "
           "folder; pass Database_134_Angiograms/",
    layout_confirmed_at="constantinpape/torch-em@6f71247c0bde24cb050bb25501ca61517ce08b7f:torch_em/data/datasets/"
                        "medical/dca1.py (DB_Angiograms_134.zip -> Database_134_Angiograms/*.pgm, '_gt.pgm' the "
                        "labels; URL and sha256); t110368027/Medical_Segmentation_Benchmark@28b67cbae30c72009d603c3d"
                        "6096d89b20d05051:preprocess.py (N.pgm with N_gt.pgm, foreground = value >= 100)",
    labels=_ARTERIES,
    reader=ImageMaskReader(image_globs=("*.pgm",), exclude=r"_gt\.pgm$",
                           masks=(MaskFile(label="vessel", template="{stem}_gt.pgm", threshold=99),)),
    downloads=(Download(url="http://personal.cimat.mx:8181/~ivan.cruz/DB_Angiograms_files/DB_Angiograms_134.zip",
                        filename="DB_Angiograms_134.zip",
                        checksum="sha256:7161638a6e92c6a6e47a747db039292c8a1a6bad809aac0d1fd16a10a6f22a11",
                        checksum_source="constantinpape/torch-em@6f71247c0bde24cb050bb25501ca61517ce08b7f:"
                                        "torch_em/data/datasets/medical/dca1.py (CHECKSUM)"),),
    instructions="unzip DB_Angiograms_134.zip; --source dca1=/data/Database_134_Angiograms. The terms are 'research "
                 "and comparison purposes': images are not published.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (CHUAC, DCA1,)
