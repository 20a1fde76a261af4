"""Public medical sources and the assemblers that turn them into VGMED and sequence-grounding samples."""
