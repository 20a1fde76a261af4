"""Reference evaluator: model adapters, attention capture, VGMED metrics, VGRefine, answers and boxes."""
