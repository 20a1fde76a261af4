"""Dental radiographs: panoramic X-rays with the mandible segmented (Abdi et al., Mendeley hxt48yk462)."""

from __future__ import annotations

from vgmed_data.builders.entry import Download, Label, SourceEntry
from vgmed_data.builders.readers.image_mask import ImageMaskReader, MaskFile

TORCH_EM = ("constantinpape/torch-em (torch_em/data/datasets/medical/pandental.py, as stored in public GitHub code: "
            "find_string 'hxt48yk462')")

PANDENTAL = SourceEntry(
    key="pandental", name="Panoramic dental X-rays with segmented mandibles (annotator 1)",
    homepage="https://data.mendeley.com/datasets/hxt48yk462/2",
    citation="Abdi A.H., Kasaei S., Mehdizadeh M. Automatic segmentation of mandible in panoramic x-ray. J. Med. "
             "Imaging 2(4), 044003 (2015). doi:10.1117/1.JMI.2.4.044003; data: Mendeley Data doi:10.17632/hxt48yk462",
    license="CC-BY-NC-3.0", license_status="conflicting", license_url=(
        "zekikus/MedSegBench@54fde021831ca89ab770096b9c2bec7de1c91957:medsegbench/info.py ('pandental': license "
        "'CC BY 4.0', reference 10.17632/hxt48yk462.1) against a survey table in public GitHub code (find_string "
        "'hxt48yk462': 'Panoramic Dental X-rays With Segmented Mandibles ... License Type: CC BY-NC 3.0' for version "
        "2); the Mendeley record itself was not read; the more restrictive is named here"),
    split_unit="image", modality="XR", body_part="head", size="~90 MB",
    layout="DentalPanoramicXrays.zip -> Images/<n>.png (panoramic radiographs) + Segmentation1/<n>.png and "
           "Segmentation2/<n>.png (two experts: the radiograph masked to the mandible, non-zero = mandible); "
           "Segmentation1 is read; pass the folder holding Images/",
    layout_confirmed_at=TORCH_EM + ": URL of DentalPanoramicXrays.zip with its sha256, Images/*.png and "
                        "Segmentation{1,2}/*.png, 'the ground-truth is the original image masked by the binary "
                        "mandible region, i.e. non-zero pixels correspond to the mandible'; SerdarHelli's loader in "
                        "public GitHub code (hxt48yk462-1.zip holding DentalPanoramicXrays.zip, then Images/)",
    labels={"mandible": Label(target="mandible", body_part="head")},
    reader=ImageMaskReader(image_globs=("Images/*.png",),
                           masks=(MaskFile(label="mandible", template="Segmentation1/{name}", threshold=0),)),
    downloads=(Download(url="https://data.mendeley.com/public-files/datasets/hxt48yk462/files/c2df1e1e-9939-4197-"
                            "9bac-1eb697a64094/file_downloaded", filename="DentalPanoramicXrays.zip",
                        checksum="sha256:4ab6f670428df8052ae04aef82011050cd5ad4805f4d28d32fea523880752cf3",
                        checksum_source=TORCH_EM + " CHECKSUM"),),
    instructions="unzip DentalPanoramicXrays.zip; --source pandental=/data/pandental (the folder holding Images/)",
    notes="Licence conflicting (see where read): annotations with pointers only. The images carry no patient id: "
          "each image is its own split unit. The second expert's masks (Segmentation2/) are not read.",
)

# The entries this module declares (collected by vgmed_data.builders.sources).
ENTRIES = (PANDENTAL,)
