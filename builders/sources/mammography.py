"""Mammography sources: CBIS-DDSM (scanned film mammograms with ROI masks of masses and calcifications, TCIA)."""

from __future__ import annotations

from vgmed_data.builders.entry import Download, Label, SourceEntry
from vgmed_data.builders.readers.csv_roi_dicom import AttributeColumn, CsvRoiDicomReader

_TCIA_WIKI = "https://wiki.cancerimagingarchive.net/pages/viewpage.action?pageId=22516629"
_TCIA_PAGE = "https://www.cancerimagingarchive.net/collection/cbis-ddsm/"
_WIKI_ATTACHMENTS = "https://wiki.cancerimagingarchive.net/download/attachments/22516629/"
_CSV_VERSIONS = {"mass_case_description_train_set.csv": "1506796355038",
                 "calc_case_description_train_set.csv": "1506796349666",
                 "mass_case_description_test_set.csv": "1506796343175",
                 "calc_case_description_test_set.csv": "1506796343686"}
_TABLE_COPY = ("Slaysenfite/CBIS-DDSM-PNG@253e6644eaf6ecb90c35ce5f39f43524fae30fa2:{mass,calc}_case_description_"
               "{train,test}_set.csv (copies of TCIA's tables, paths rewritten to .png)")
_VALUE_COPY = ("jjmacagnan/CompareTwoCSVFiles@2901f67b65ea11d262ad40b1cff30aae570ae487:"
               "{mass,calc}_case_description_{train,test}_set.csv (an earlier release of the four tables, without "
               "the path columns: every value of every attribute column)")


def _words(*values: str) -> dict[str, str]:
    """The source's upper-case descriptors -> the answers asked (lower case, spaces)."""
    return {value: value.lower().replace("_", " ") for value in values}


_ATTRIBUTES = (
    AttributeColumn(column="pathology", name="pathology",
                    answers=_words("MALIGNANT", "BENIGN", "BENIGN_WITHOUT_CALLBACK")),
    AttributeColumn(column="assessment", name="BI-RADS assessment",
                    answers={str(n): f"BI-RADS {n}" for n in range(6)}),
    AttributeColumn(column="mass shape", name="mass shape", separator="-", answers=_words(
        "ROUND", "OVAL", "LOBULATED", "IRREGULAR", "ARCHITECTURAL_DISTORTION", "ASYMMETRIC_BREAST_TISSUE",
        "FOCAL_ASYMMETRIC_DENSITY", "LYMPH_NODE")),
    AttributeColumn(column="mass margins", name="mass margins", separator="-", answers=_words(
        "CIRCUMSCRIBED", "MICROLOBULATED", "OBSCURED", "ILL_DEFINED", "SPICULATED")),
    AttributeColumn(column="calc type", name="calcification type", separator="-", answers={
        **_words("AMORPHOUS", "COARSE", "DYSTROPHIC", "EGGSHELL", "FINE_LINEAR_BRANCHING", "LARGE_RODLIKE",
                 "MILK_OF_CALCIUM", "PLEOMORPHIC", "PUNCTATE", "ROUND_AND_REGULAR", "SKIN", "VASCULAR"),
        "LUCENT_CENTER": "lucent centered", "LUCENT_CENTERED": "lucent centered"}),
    AttributeColumn(column="calc distribution", name="calcification distribution", separator="-", answers=_words(
        "CLUSTERED", "LINEAR", "REGIONAL", "DIFFUSELY_SCATTERED", "SEGMENTAL")),
)
_READER = CsvRoiDicomReader(
    table_glob="*_case_description_*_set.csv", image_dir="CBIS-DDSM", label_column="abnormality type",
    patient_column="patient_id", image_column="image file path", mask_column="ROI mask file path",
    view_column="image view", attributes=_ATTRIBUTES,
    metadata_columns={"left or right breast": "breast", "breast_density": "breast_density",
                      "breast density": "breast_density"})

CBIS_DDSM = SourceEntry(
    key="cbis-ddsm", name="CBIS-DDSM: Curated Breast Imaging Subset of DDSM (film mammograms, mass and "
                          "calcification ROI masks)",
    homepage=_TCIA_PAGE,
    citation="Sawyer-Lee R., Gimenez F., Hoogi A., Rubin D. Curated Breast Imaging Subset of Digital Database for "
             "Screening Mammography (CBIS-DDSM) [Data set]. The Cancer Imaging Archive (2016). "
             "doi:10.7937/K9/TCIA.2016.7O02S9CY; Lee R.S. et al. A curated mammography data set for use in "
             "computer-aided detection and diagnosis research. Sci Data 4, 170177 (2017). doi:10.1038/sdata.2017.177",
    license="CC-BY-3.0", license_status="stated", license_url=(
        _TCIA_WIKI + " (version 64, 'Data Access' table: the images and each of the four description CSVs carry "
        "the 'TCIA CC BY 3' licence badge); " + _TCIA_PAGE + " (DOI 10.7937/K9/TCIA.2016.7O02S9CY, 'Data Citation "
        "Required')"),
    split_unit="patient", modality="MG", body_part="breast", size="163.6 GB (DICOM) + 4 CSV",
    layout="<root>/{mass,calc}_case_description_{train,test}_set.csv + <root>/CBIS-DDSM/<Subject ID>/... as the "
           "NBIA Data Retriever writes it: full mammograms under <Subject ID> = {Mass,Calc}-{Training,Test}_"
           "P_<nnnnn>_{LEFT,RIGHT}_{CC,MLO}, each abnormality's ROI series (cropped image + ROI mask, 1-1.dcm and "
           "1-2.dcm in no fixed order) under <Subject ID>_<abnormality id>; classic folders "
           "<StudyInstanceUID>/<SeriesInstanceUID>/ or descriptive ones (<date>-<study>/<n>-<series "
           "description>-<nnnnn>/). CSV columns (mass): patient_id, breast_density, left or right breast, image "
           "view, abnormality id, abnormality type, mass shape, mass margins, assessment, pathology, subtlety, image "
           "file path, cropped image file path, ROI mask file path (calc: 'breast density', calc type, calc "
           "distribution); paths are <Subject ID>/<study UID>/<series UID>/00000N.dcm",
    layout_confirmed_at=(
        _TCIA_WIKI + " (version 64: 6775 series, 10239 images, modality MG, the four CSVs and the .tcia manifest "
        "for the NBIA Data Retriever); " + _TABLE_COPY + " (headers verbatim; ROI mask paths quoted with a trailing "
        "newline); djkatsaros/NN@a2fc8525f8b2ee5f607d64d4168d04aa75c6aea4:mass_case_description_train_set.csv "
        "(the original 000000.dcm/000001.dcm file names: cropped image 000000, mask 000001 of one ROI series); "
        "KP-AROB/AROB-CBIS-DDSM-Preparation@0f66b0a143778d9f3ddd78237f987f92c9867390:src/utils/metadata.py "
        "(CSV path segments 1 and 2 are the Study and Series UIDs of the retriever's metadata.csv, whose 'File "
        "Location' gives the real folder); " + _VALUE_COPY + ". Not confirmed here: the DICOM headers themselves "
        "(SOP Class, whether PixelSpacing is present) and which instance is the mask on disk; the reader picks the "
        "mask by its size, which only the mask shares with the full image"),
    labels={"mass": Label(target="mass", body_part="breast", kind="lesion"),
            "calcification": Label(target="calcification", body_part="breast", kind="lesion")},
    reader=_READER, attributes=_READER.vocabulary(),
    downloads=tuple(Download(url=f"{_WIKI_ATTACHMENTS}{name}?version=1&modificationDate={stamp}&api=v2",
                             filename=name) for name, stamp in _CSV_VERSIONS.items()),
    instructions=(
        "The four description CSVs download directly (no checksums are published). The DICOM images need the NBIA "
        "Data Retriever (no account): open the collection's .tcia manifest from " + _TCIA_PAGE + " (or "
        + _WIKI_ATTACHMENTS + "CBIS-DDSM-All-doiJNLP-zzWs5zfZ.tcia) with the retriever and download into the "
        "folder holding the CSVs, so that it holds CBIS-DDSM/<Subject ID>/...; classic or descriptive folder "
        "names both work. Then: VGMED_DEID_KEY=<your team's secret> vgmed build vgmed --source cbis-ddsm=FOLDER "
        "--out DIR"),
    notes="One record per full mammogram, one region per CSV row (a mass or a calcification ROI mask); several "
          "abnormalities of one type on an image are one target. Questions also ask the CSV's own per-abnormality "
          "labels (source_attribute: pathology, BI-RADS assessment, mass shape and margins, calcification type and "
          "distribution), only where every abnormality of that target on the image agrees; a descriptor listing "
          "several terms (IRREGULAR-ARCHITECTURAL_DISTORTION) or N/A is not asked. Split by the CSV's patient_id "
          "(the DDSM case; TCIA's own train/test assignment is not kept). The images are digitised films, so "
          "laterality on the image is not asserted. Images whose header marks them as Secondary Capture are "
          "withheld for review under the default --burned-in-check header (film labels may be burned in); after "
          "looking at them, build with --burned-in-check off. A public loader resizes some masks that differ in size from "
          "their mammogram (find_string 'Check if mask has the same size as the full scan'); here such an "
          "abnormality is never resized: its image is a 'shape mismatch', one line, or counted under --on-bad skip.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (CBIS_DDSM,)
