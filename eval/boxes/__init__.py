"""Box outputs of model families: named formats, strict + lenient parsing, conversion to the stored frame through
the inverse of the model's input transform, scoring (IoU, Acc@0.3/0.5/0.7, mIoU, image index) and baselines.

Nothing here imports torch.
"""

from vgmed_data.eval.boxes.baselines import MeanBox, full_image
from vgmed_data.eval.boxes.formats import FORMATS, OutputFormat, get_format, register_format
from vgmed_data.eval.boxes.model_input import InputPolicy, smart_resize
from vgmed_data.eval.boxes.parsing import ParsedOutput, parse_output
from vgmed_data.eval.boxes.scoring import SampleScore, Target, score_box, score_output, summarise, summarise_by_task

__all__ = ["FORMATS", "InputPolicy", "MeanBox", "OutputFormat", "ParsedOutput", "SampleScore", "Target",
           "full_image", "get_format", "parse_output", "register_format", "score_box", "score_output",
           "smart_resize", "summarise", "summarise_by_task"]
