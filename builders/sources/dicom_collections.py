"""DICOM collections with DICOM-SEG annotations, downloaded from NCI Imaging Data Commons (IDC)."""

from __future__ import annotations

from vgmed_data.builders.entry import Label, SourceEntry
from vgmed_data.builders.readers.dicom import DicomSeriesReader

IDC_LAYOUT_SOURCE = ("ImagingDataCommons/idc-index: idc_index/index.py (IDCClient.DOWNLOAD_HIERARCHY_DEFAULT = "
                     "%collection_id/%PatientID/%StudyInstanceUID/%Modality_%SeriesInstanceUID; files named "
                     "<crdc_instance_uuid>.dcm)")

LIDC_IDRI = SourceEntry(
    key="lidc-idri", name="LIDC-IDRI lung nodules (CT, DICOM-SEG conversion of the reader annotations, via IDC)",
    homepage="https://www.cancerimagingarchive.net/collection/lidc-idri/",
    citation="Armato SG III et al. The Lung Image Database Consortium (LIDC) and Image Database Resource Initiative "
             "(IDRI): a completed reference database of lung nodules on CT scans. Med Phys 38:915-931 (2011); "
             "SEG conversion: Fedorov A. et al. DICOM re-encoding of volumetrically annotated LIDC nodules. "
             "Med Phys (2020) doi:10.1002/mp.14445",
    license="CC-BY-3.0",
    license_url="https://www.cancerimagingarchive.net/collection/lidc-idri/ (TCIA: CC BY 3.0; also stated in "
                "MONAI's lung_nodule_ct_detection bundle docs/data_license.txt)",
    license_status="stated", split_unit="patient", modality="CT", body_part="chest", size="~125 GB (CT) + SEG",
    layout="lidc_idri/<PatientID>/<StudyInstanceUID>/CT_<SeriesInstanceUID>/<uuid>.dcm and, beside it, one "
           "SEG_<SeriesInstanceUID>/<uuid>.dcm per reader annotation (one segment each, SegmentedPropertyType "
           "'Nodule'); pass the lidc_idri/ folder",
    layout_confirmed_at=IDC_LAYOUT_SOURCE + "; segment coding: QIICR/lidc2dicom@032c41e969946c7820dda5bfae7e655d20e1900a:"
                        "seg_conversion_template.json (SegmentedPropertyTypeCodeSequence CodeMeaning 'Nodule')",
    labels={"Nodule": Label(target="lung nodule", body_part="chest", kind="lesion")},
    reader=DicomSeriesReader(label_from="property"),
    window="lung", laterality_known=True,
    instructions=(
        "No registration or credentials: IDC data are in public buckets. In a separate environment (idc-index is "
        "not a dependency of vgmed-data):\n"
        "  pip install idc-index\n"
        "  python -c \"from idc_index import IDCClient; c = IDCClient(); "
        "uids = c.sql_query(\\\"SELECT SeriesInstanceUID FROM index WHERE collection_id = 'lidc_idri' AND "
        "Modality IN ('CT', 'SEG')\\\")['SeriesInstanceUID'].tolist(); "
        "c.download_from_selection(seriesInstanceUID=uids, downloadDir='/data/idc')\"\n"
        "(idc-index runs s5cmd against the public bucket and keeps the default folder template). Then: "
        "VGMED_DEID_KEY=<your team's secret> vgmed build vgmed --source lidc-idri=/data/idc/lidc_idri --out DIR"),
    notes="Each LIDC nodule is annotated by up to four readers, one SEG per reader; the regions of one series are "
          "united per target (a voxel marked by any reader is nodule). The X-ray (CR/DX) series are not used.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (LIDC_IDRI,)
