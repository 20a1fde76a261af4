"""The review scenario shared by the round-trip tests: what two experts and an adjudicator submit, through the
SDK as distinct users (``completed_by``), on the 64x40 tasks of :mod:`tests.annotation.data`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from label_studio_sdk.converter.brush import mask2rle

from tests.annotation.data import HEIGHT, WIDTH, sample_mask
from tests.fixtures.label_studio import ANNOTATORS

A, B, ADJ = ANNOTATORS
POLYGON_PX = [(4.0, 4.0), (20.0, 4.0), (12.0, 16.0)]


def rect(x: float, y: float, w: float, h: float, *, label: str = "liver", rotation: float = 0.0,
         size: tuple[int, int] = (WIDTH, HEIGHT)) -> dict:
    """A rectangle result given in PIXELS of an image of ``size`` (width, height; default the 64x40 tasks),
    written in percent as Label Studio stores it."""
    width, height = size
    return {"from_name": "box", "to_name": "image", "type": "rectanglelabels", "original_width": width,
            "original_height": height, "image_rotation": 0,
            "value": {"x": x / width * 100, "y": y / height * 100, "width": w / width * 100,
                      "height": h / height * 100, "rotation": rotation, "rectanglelabels": [label]}}


def verdict(value: str) -> dict:
    return {"from_name": "verdict", "to_name": "image", "type": "choices", "value": {"choices": [value]}}


ROTATED = rect(20, 5, 16, 8, rotation=30.0)  # A's rotated rectangle on task 0


def annotate(client: Any, tasks: Sequence[int], users: Mapping[str, int]) -> None:
    """Tasks t0..t3 (in sample-id order): t0 both accept, A draws every region kind, B the same box 2 px to the
    right; t1 same box, verdicts differ; t2 same verdict, boxes overlap little; t3 one annotator only."""
    t0, t1, t2, t3 = tasks
    ls_users = users
    brush_mask = sample_mask(0)
    a_results = [
        rect(8, 10, 16, 8), ROTATED,
        {"from_name": "polygon", "to_name": "image", "type": "polygonlabels", "original_width": WIDTH,
         "original_height": HEIGHT, "image_rotation": 0,
         "value": {"points": [[x / WIDTH * 100, y / HEIGHT * 100] for x, y in POLYGON_PX], "closed": True,
                   "polygonlabels": ["liver"]}},
        {"from_name": "brush", "to_name": "image", "type": "brushlabels", "original_width": WIDTH,
         "original_height": HEIGHT, "image_rotation": 0,
         "value": {"format": "rle", "rle": mask2rle(brush_mask.astype(np.uint8) * 255), "brushlabels": ["liver"]}},
        verdict("accept")]
    client.annotations.create(id=t0, result=a_results, completed_by=ls_users[A], lead_time=30.0)
    client.annotations.create(id=t0, result=[rect(10, 10, 16, 8), verdict("accept")], completed_by=ls_users[B],
                              lead_time=20.0)
    # task 1: same box, verdicts differ.
    client.annotations.create(id=t1, result=[rect(8, 8, 20, 12), verdict("accept")], completed_by=ls_users[A])
    client.annotations.create(id=t1, result=[rect(8, 8, 20, 12), verdict("reject")], completed_by=ls_users[B])
    # task 2: same verdict, boxes overlap little.
    client.annotations.create(id=t2, result=[rect(0, 0, 20, 20), verdict("region fixed")], completed_by=ls_users[A])
    client.annotations.create(id=t2, result=[rect(10, 10, 20, 20), verdict("region fixed")],
                              completed_by=ls_users[B])
    # task 3: one annotator only.
    client.annotations.create(id=t3, result=[rect(1, 2, 3, 4), verdict("accept")], completed_by=ls_users[A])


def adjudicate_decisions(client: Any, adjudication: Mapping[str, int], sample_ids: Sequence[str],
                         users: Mapping[str, int]) -> None:
    """The adjudicator: sample 0 keeps A's first box (accept), sample 1 rejected, sample 2 a new box."""
    ls_users = users
    client.annotations.create(id=adjudication[sample_ids[0]], result=[rect(8, 10, 16, 8), verdict("accept")],
                              completed_by=ls_users[ADJ])
    client.annotations.create(id=adjudication[sample_ids[1]], result=[verdict("reject")],
                              completed_by=ls_users[ADJ])
    client.annotations.create(id=adjudication[sample_ids[2]], result=[rect(5, 5, 20, 20), verdict("region fixed")],
                              completed_by=ls_users[ADJ])
