"""Polygon annotations in Aperio ImageScope XML (MoNuSAC), rasterised to masks when a record is loaded.

The structure, as the MoNuSAC organisers' own mask generator reads it (ruchikaverma-iitg/MoNuSAC@2cbc9bfb39240e6631
84f25f469da104bd1965bd:Mask_generation.ipynb): the root ``<Annotations>`` holds ``<Annotation>`` elements; an
annotation's first child ``<Attributes>`` names its class (``<Attribute Name="Epithelial" .../>``) and its
``<Regions>`` hold ``<Region>`` elements whose ``<Vertices>`` list ``<Vertex X=".." Y=".."/>`` in pixels of the
image. A polygon covers the pixels Pillow's polygon fill covers (its edges included).

Hostile input is refused in one line naming the file: a DOCTYPE or entity declaration (no entity expansion), a file
over ``MAX_BYTES``, an annotation without a class name, a region with fewer than three vertices or a vertex that is
not a finite number.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from vgmed_data.errors import FileFormatError
from vgmed_data.userfiles import read_bounded

MAX_BYTES = 64 * 1024 * 1024
Polygon = list[tuple[float, float]]


def read_polygons(path: str | Path) -> dict[str, list[Polygon]]:
    """class name -> its polygons (in file order)."""
    file = Path(path)
    data = read_bounded(file, limit=MAX_BYTES, what="annotation file")
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise FileFormatError("declares a DOCTYPE or entities, which annotation files never need", path=file,
                              fix="use the source's original annotation file")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        raise FileFormatError(f"is not well-formed XML ({error})", path=file, fix="re-download the file") from None
    polygons: dict[str, list[Polygon]] = {}
    for annotation in root.iter("Annotation"):
        names = [a.get("Name", "") for a in annotation.iter("Attribute")]
        if not names or not names[0]:
            raise FileFormatError(f"annotation {annotation.get('Id', '?')} has no class name (Attribute Name)",
                                  path=file, fix="use the source's original annotation file")
        for region in annotation.iter("Region"):
            vertices: Polygon = []
            for vertex in region.iter("Vertex"):
                try:
                    x, y = float(vertex.get("X", "")), float(vertex.get("Y", ""))
                except ValueError:
                    x = y = math.nan
                if not (math.isfinite(x) and math.isfinite(y)):
                    raise FileFormatError(f"region {region.get('Id', '?')} has a vertex that is not two numbers",
                                          path=file, fix="use the source's original annotation file")
                vertices.append((x, y))
            if len(vertices) < 3:
                raise FileFormatError(f"region {region.get('Id', '?')} has {len(vertices)} vertices (a polygon needs "
                                      "three)", path=file, fix="use the source's original annotation file")
            polygons.setdefault(names[0], []).append(vertices)
    return polygons


def rasterise(polygons: list[Polygon], shape: tuple[int, int]) -> NDArray[np.bool_]:
    """The union of ``polygons`` on an (h, w) grid."""
    canvas = Image.new("1", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for polygon in polygons:
        draw.polygon(polygon, fill=1, outline=1)
    return np.asarray(canvas, dtype=bool)
