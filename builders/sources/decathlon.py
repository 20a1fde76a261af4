"""Medical Segmentation Decathlon tasks (http://medicaldecathlon.com/).

Layout confirmed at Project-MONAI/MONAI:monai/apps/datasets.py (``DecathlonDataset``: task archive URLs, md5s,
``dataset.json`` with ``training`` pairs under ``imagesTr``/``labelsTr``) and at the label/modality dictionaries
of each task's ``dataset.json`` (as listed in the MSD paper, arXiv:1902.09063, Table 1). The archives also hold
macOS ``._*`` files, which the reader ignores. Licence: CC BY-SA 4.0, stated on http://medicaldecathlon.com/
("All data will be made available online with a permissive copyright-license (CC-BY-SA 4.0)").
"""

from __future__ import annotations

from vgmed_data.builders.entry import Download, Label, SourceEntry
from vgmed_data.builders.readers.nifti import DecathlonReader

HOMEPAGE = "http://medicaldecathlon.com/"
CITATION = ("Antonelli M. et al. The Medical Segmentation Decathlon. Nature Communications 13, 4128 (2022). "
            "doi:10.1038/s41467-022-30695-9")
LAYOUT_SOURCE = "Project-MONAI/MONAI:monai/apps/datasets.py (DecathlonDataset); arXiv:1902.09063 Table 1"
LICENSE_READ_AT = (HOMEPAGE + " ('All data will be made available online with a permissive copyright-license "
                   "(CC-BY-SA 4.0)')")
MONAI_MD5 = "Project-MONAI/MONAI:monai/apps/datasets.py (DecathlonDataset.md5)"


# Where each task's dataset.json "labels" were confirmed (label values and names). The dataset.json files were not
# opened from the archives here; these are verbatim quotations of them in public code and MONAI's own tests.
_QUOTED = "verbatim dataset.json quotations in public GitHub code (find_string)"
LABELS_SOURCE = {
    "Task02_Heart": f"{{'0': 'background', '1': 'left atrium'}}: {_QUOTED}, e.g. MSD loaders docstring with 'la_001.nii.gz'",
    "Task03_Liver": "{'1': 'liver', '2': 'cancer'}: label maps of MSD loaders in public GitHub code agree (not a "
                    "verbatim dataset.json quotation; not confirmed at the file itself)",
    "Task04_Hippocampus": "{'0': 'background', '1': 'Anterior', '2': 'Posterior'}: Project-MONAI/MONAI@"
                          "8f2a65beb612750fdd261acccfe4cfa679d553d8:tests/test_decathlondataset.py (asserts "
                          "get_properties(keys='labels') on the downloaded task)",
    "Task05_Prostate": f"{{'1': 'PZ', '2': 'TZ'}}, modality {{'0': 'T2', '1': 'ADC'}}: {_QUOTED} (with the file's "
                       "'relase': '1.0 04/05/2018' and 'Radboud University, Nijmegen Medical Centre' reference)",
    "Task06_Lung": "{'0': 'background', '1': 'cancer'}: label maps of MSD loaders in public GitHub code (not a "
                   "verbatim dataset.json quotation; not confirmed at the file itself)",
    "Task07_Pancreas": f"{{'1': 'pancreas', '2': 'cancer'}}: {_QUOTED} (with 'Memorial Sloan Kettering Cancer "
                       "Center' reference, 281 training / 139 test)",
    "Task09_Spleen": "{'0': 'background', '1': 'spleen'}: label maps of MSD loaders in public GitHub code (not a "
                     "verbatim dataset.json quotation; not confirmed at the file itself)",
    "Task08_HepaticVessel": f"{{'0': 'background', '1': 'Vessel', '2': 'Tumour'}}: {_QUOTED} (with 'name': "
                            "'HepaticVessel', 'release': '1.1 14/08/2018', 'licence': 'CC-BY-SA 4.0', 'numTraining': "
                            "303, 'numTest': 140)",
    "Task10_Colon": f"{{'0': 'background', '1': 'colon cancer primaries'}}: {_QUOTED} (with 'numTraining' 126, "
                    "'numTest' 64; files colon_NNN.nii.gz)",
}


def _task(*, key: str, task: str, md5: str, modality: str, body_part: str, labels: dict[str, Label], size: str,
          channels: tuple[int, ...] | None = None, window: str | None = None) -> SourceEntry:
    layout = (f"{task}/dataset.json, {task}/imagesTr/<case>.nii.gz"
              + (" (4D: one volume per sequence)" if channels is not None else "")
              + f", {task}/labelsTr/<case>.nii.gz (integer labels: "
              + ", ".join(f"{v}={lab.target}" for v, lab in labels.items()) + ")")
    return SourceEntry(
        key=key, name=f"Medical Segmentation Decathlon {task}", homepage=HOMEPAGE, citation=CITATION,
        license="CC-BY-SA-4.0", license_url=LICENSE_READ_AT, license_status="stated", split_unit="volume", modality=modality, body_part=body_part,
        size=size, layout=layout,
        layout_confirmed_at=LAYOUT_SOURCE + (f"; labels {LABELS_SOURCE[task]}" if task in LABELS_SOURCE else ""),
        labels=labels,
        reader=DecathlonReader(channels=channels), window=window, laterality_known=True,
        downloads=(Download(url=f"https://msd-for-monai.s3-us-west-2.amazonaws.com/{task}.tar", filename=f"{task}.tar",
                            checksum=f"md5:{md5}", checksum_source=MONAI_MD5),),
        instructions=f"Extract {task}.tar and pass the {task}/ folder: --source {key}=/data/{task}",
    )


BRAIN_TUMOUR = _task(
    key="msd-brain-tumour", task="Task01_BrainTumour", md5="240a19d752f0d9e9101544901065d872", modality="MR",
    body_part="brain", size="7.1 GB", channels=(0, 2),  # FLAIR and T1 post-contrast ("t1gd")
    labels={"1": Label(target="peritumoral edema", body_part="brain", kind="lesion"),
            "2": Label(target="non-enhancing tumour", body_part="brain", kind="lesion"),
            "3": Label(target="enhancing tumour", body_part="brain", kind="lesion")})
HEART = _task(
    key="msd-heart", task="Task02_Heart", md5="06ee59366e1e5124267b774dbd654057", modality="MR", body_part="heart",
    size="435 MB", labels={"1": Label(target="left atrium", body_part="heart")})
LIVER = _task(
    key="msd-liver", task="Task03_Liver", md5="a90ec6c4aa7f6a3d087205e23d4e6397", modality="CT", body_part="abdomen",
    size="26.9 GB", window="abdomen",
    labels={"1": Label(target="liver", body_part="abdomen"),
            "2": Label(target="liver tumour", body_part="abdomen", kind="lesion")})
HIPPOCAMPUS = _task(
    key="msd-hippocampus", task="Task04_Hippocampus", md5="9d24dba78a72977dbd1d2e110310f31b", modality="MR",
    body_part="brain", size="27 MB",
    labels={"1": Label(target="anterior hippocampus", body_part="brain"),
            "2": Label(target="posterior hippocampus", body_part="brain")})
PROSTATE = _task(
    key="msd-prostate", task="Task05_Prostate", md5="35138f08b1efaef89d7424d2bcc928db", modality="MR",
    body_part="pelvis", size="229 MB", channels=(0,),  # T2 (channel 1 is ADC)
    labels={"1": Label(target="prostate peripheral zone", body_part="pelvis"),
            "2": Label(target="prostate transition zone", body_part="pelvis")})
LUNG = _task(
    key="msd-lung", task="Task06_Lung", md5="8afd997733c7fc0432f71255ba4e52dc", modality="CT", body_part="chest",
    size="8.5 GB", window="lung", labels={"1": Label(target="lung tumour", body_part="chest", kind="lesion")})
PANCREAS = _task(
    key="msd-pancreas", task="Task07_Pancreas", md5="4f7080cfca169fa8066d17ce6eb061e4", modality="CT",
    body_part="abdomen", size="11.4 GB", window="abdomen",
    labels={"1": Label(target="pancreas", body_part="abdomen"),
            "2": Label(target="pancreatic tumour", body_part="abdomen", kind="lesion")})
SPLEEN = _task(
    key="msd-spleen", task="Task09_Spleen", md5="410d4a301da4e5b2f6f86ec3ddba524e", modality="CT",
    body_part="abdomen", size="1.5 GB", window="abdomen", labels={"1": Label(target="spleen", body_part="abdomen")})

HEPATIC_VESSEL = _task(
    key="msd-hepatic-vessel", task="Task08_HepaticVessel", md5="641d79e80ec66453921d997fbf12a29c", modality="CT",
    body_part="abdomen", size="8.6 GB", window="abdomen",
    labels={"1": Label(target="hepatic vessels", body_part="abdomen"),
            "2": Label(target="liver tumour", body_part="abdomen", kind="lesion")})
COLON = _task(
    key="msd-colon", task="Task10_Colon", md5="bad7a188931dc2f6acf72b08eb6202d0", modality="CT",
    body_part="abdomen", size="5.8 GB", window="abdomen",
    labels={"1": Label(target="colon cancer", body_part="abdomen", kind="lesion")})

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (BRAIN_TUMOUR, HEART, LIVER, HIPPOCAMPUS, PROSTATE, LUNG, PANCREAS, HEPATIC_VESSEL, SPLEEN, COLON,)
