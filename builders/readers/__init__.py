"""Generic readers that source entries reuse. Each lists :class:`~vgmed_data.builders.records.SourceRecord` items from a
source's root folder without loading pixels.

* :mod:`vgmed_data.builders.readers.nifti`: NIfTI image/label pairs: Medical Segmentation Decathlon (``dataset.json``,
  single- and multi-sequence 4D images), case folders (KiTS), and one-file-per-structure label folders
  (TotalSegmentator).
* :mod:`vgmed_data.builders.readers.image_mask`: 2D image/mask pairs (one or several mask files per image).
* :mod:`vgmed_data.builders.readers.box_table`: box tables (CSV) such as NIH ChestX-ray14's ``BBox_List_2017.csv``.
* :mod:`vgmed_data.builders.readers.vqa`: VQA sets with per-image boxes (SLAKE).
"""
