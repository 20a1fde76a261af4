"""The builders' shared seeding (builders/skeleton.py). The hashings are the released outputs' format: the
expected values are computed here from their written definition (docs/architecture.md), not by the module."""

from __future__ import annotations

import hashlib
import json
import random

import numpy as np

from vgmed_data.builders.skeleton import Hashing, Seeding


def test_joined_hashing_is_the_vgmed_builders() -> None:
    seeding = Seeding(7, Hashing.JOINED)
    digest = hashlib.sha256(b"7\x1fkits23\x1fcase_00001").digest()
    assert seeding.fraction("kits23", "case_00001") == int.from_bytes(digest[:8], "big") / 2**64
    assert seeding.order_key("kits23", "case_00001") == digest.hex()
    assert seeding.random("a", 3).random() == random.Random(
        int.from_bytes(hashlib.sha256(b"7\x1fa\x1f3").digest()[:8], "big")).random()


def test_json_hashing_is_the_sequences_builders() -> None:
    seeding = Seeding(1, Hashing.JSON)
    digest = hashlib.sha256(json.dumps([1, "referring", "msd", "BRATS_003"]).encode()).digest()
    expected = np.random.default_rng(int.from_bytes(digest[:8], "little")).integers(0, 1000, 5)
    assert list(seeding.generator("referring", "msd", "BRATS_003").integers(0, 1000, 5)) == list(expected)
    assert Hashing.JSON.text([1, 2, "x"]) == b'[1, 2, "x"]'  # integers stay numbers


def test_splits_follow_the_fractions_in_order_and_are_the_same_for_a_unit() -> None:
    seeding = Seeding(0, Hashing.JSON)
    splits = (("train", 0.2), ("test", 0.8))
    drawn = [seeding.split("src", f"p{i}", splits=splits) for i in range(2000)]
    for i, name in enumerate(drawn):
        assert name == ("train" if seeding.fraction("src", f"p{i}") < 0.2 else "test")
    assert 0.15 < drawn.count("train") / len(drawn) < 0.25  # 2000 draws: 5 standard deviations is 0.045
    assert seeding.split("src", "p1", splits=splits) == drawn[1]
    three = (("train", 0.7), ("validation", 0.1), ("test", 0.2))
    for i in range(200):
        u = Seeding(5, Hashing.JOINED).fraction("s", i)
        expected = "train" if u < 0.7 else "validation" if u < 0.7 + 0.1 else "test"
        assert Seeding(5, Hashing.JOINED).split("s", i, splits=three) == expected
