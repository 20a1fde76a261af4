"""Tiny random-weight checkpoints of every family and a test image, shared with the VGRefine tests."""

from tests.vgrefine.conftest import image, tiny_adapter  # noqa: F401 - fixtures
