"""What every model adapter knows: the chat input, the processor settings, the image-token layout and the
transform from the stored image to the model input.

An adapter wraps a loaded transformers model and its processor. It turns ``(image, question)`` pairs into a
left-padded batch, and for each row of that batch it reports an :class:`ImageLayout`: the sequence positions of
the image tokens that tile the image, the grid they form, and the :class:`~vgmed_data.geometry.Transform` from
the stored image to the pixels that grid tiles. Boxes stored with the dataset (internal xyxy) therefore map onto
token cells exactly the way the model saw the image.

Prompts (the official VGMED text, FACTS.md):

* question prompt: ``f"{question} Answer the question using a single word or phrase."``
* general prompt: ``"Write a general description of the image. Answer the question using a single word or phrase."``
* closed questions with options: the question, then one ``"A. option"`` line per option, then
  ``"Answer with the option's letter from the given choices directly."``
* the prompt the grounding metrics' attention is captured on (:func:`attention_question_prompt`): the official
  question prompt, also for closed questions (the official code measures attention without the options), or,
  on request, the answer prompt above

The user turn is wrapped in the checkpoint's chat template when it ships one, otherwise in the family's own
one-turn format (:attr:`Adapter.default_template`), which reproduces the official template of the family.
"""

from __future__ import annotations

import string
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from vgmed_data.errors import InvalidInputError
from vgmed_data.eval.adapters.family import Checkpoint, Family
from vgmed_data.eval.choices import AttentionPrompt
from vgmed_data.geometry import BoxFormat, Transform

SHORT_ANSWER = "Answer the question using a single word or phrase."
GENERAL_PROMPT = f"Write a general description of the image. {SHORT_ANSWER}"
OPTION_INSTRUCTION = "Answer with the option's letter from the given choices directly."
IMAGE = "{image}"  # placeholder for the family's image token(s) in a default template


def question_prompt(question: str, options: Sequence[str] = ()) -> str:
    """The user text for a question: official VGMED wording for open questions, lettered options for closed."""
    question = question.strip()
    if not options:
        return f"{question} {SHORT_ANSWER}"
    if len(options) > len(string.ascii_uppercase):
        raise InvalidInputError(f"{len(options)} options cannot be lettered A-Z", fix="pose at most 26 options")
    lines = [question] + [f"{letter}. {option}" for letter, option in zip(string.ascii_uppercase, options)]
    return "\n".join(lines + [OPTION_INSTRUCTION])


PROCESSOR_REJECTED = "image rejected by the processor"  # the reason a sample the processor refuses is skipped


def attention_question_prompt(question: str, options: Sequence[str] = (), *, mode: AttentionPrompt) -> str:
    """The user text the grounding metrics' attention is captured on.

    ``"official"``: the official VGMED prompt, ``question_prompt(question)``, for open and closed questions
    alike (the official code measures attention on it; closed questions are still answered with lettered
    options). ``"answer"``: the prompt the answer is generated from, ``question_prompt(question, options)``.
    The two differ only for closed questions."""
    return question_prompt(question) if mode == AttentionPrompt.OFFICIAL else question_prompt(question, options)


@dataclass(frozen=True)
class ImageLayout:
    """One image in one row of a batch, as the language model sees it.

    ``positions``: sequence positions (in the padded batch row) of the tokens that tile the image, raster order
    (row-major), length ``rows * cols``. ``grid``: ``(rows, cols)``. ``transform``: stored image -> the pixels
    the grid tiles (each cell covers ``dst_size / grid`` pixels of it). ``span``: ``[start, end)`` of all image
    tokens of this image in the row (LLaVA-NeXT's span also holds high-resolution tiles and newline tokens that
    ``positions`` leaves out).
    """

    positions: NDArray[np.int64]
    grid: tuple[int, int]
    transform: Transform
    span: tuple[int, int]

    def __post_init__(self) -> None:
        rows, cols = self.grid
        if len(self.positions) != rows * cols:
            raise InvalidInputError(f"{len(self.positions)} image-token positions for a {rows}x{cols} grid")

    @property
    def cells_in_span(self) -> NDArray[np.int64]:
        """Grid cells as offsets into the span (what a capture over ``span`` is indexed by)."""
        return self.positions - self.span[0]


@dataclass(frozen=True, kw_only=True)
class AdapterOptions:
    """Processor settings an evaluator may choose. ``None`` means the family's documented default
    (:attr:`Adapter.default_max_pixels`); ``0`` keeps what the checkpoint's processor says."""

    max_pixels: int | None = None
    min_pixels: int | None = None
    use_chat_template: bool = True
    max_new_tokens: int = 16
    min_new_tokens: int | None = None  # the official HuatuoGPT-Vision bot asks for 1 (cli_new.py gen_kwargs)
    # Qwen families: resize the image as qwen_vl_utils.process_vision_info does before the processor sees it
    # (the official measurement scripts; eval.protocol)
    pre_resize: bool = False
    # True: pass only the lengths to ``generate`` and let the checkpoint's generation_config decide the rest
    # (the official Qwen path, eval_utils.py qwen3_vl_inference); False: greedy, sampling settings off.
    checkpoint_generation: bool = False


@dataclass
class Encoded:
    """A left-padded batch ready for the model and, per row, the layout of its image."""

    inputs: dict[str, Any]
    layouts: list[ImageLayout]
    texts: list[str]
    prompt_lengths: list[int] = field(default_factory=list)  # unpadded token count per row

    def on(self, device: Any, *, dtype: Any) -> "Encoded":
        """The same batch with its tensors on ``device`` and floating pixel values in ``dtype`` (the model's)."""
        return Encoded(inputs_on(self.inputs, device, dtype=dtype), self.layouts, self.texts, self.prompt_lengths)


def inputs_on(inputs: dict[str, Any], device: Any, *, dtype: Any) -> dict[str, Any]:
    """Processor outputs moved to ``device``, floating pixel values cast to the model's ``dtype``."""
    moved: dict[str, Any] = {}
    for key, value in inputs.items():
        if hasattr(value, "to"):
            value = value.to(device)
            if key == "pixel_values" and value.is_floating_point():
                value = value.to(dtype)
        moved[key] = value
    return moved


class Adapter(ABC):
    """Base class of the per-family adapters. A subclass sets ``descriptor`` (its family's facts,
    :class:`~vgmed_data.eval.adapters.family.Family`) and implements the layout; the class attributes below are
    read from the descriptor when the subclass is defined."""

    descriptor: ClassVar[Family]
    family: ClassVar[str]
    model_types: ClassVar[tuple[str, ...]]  # config.model_type values this adapter handles
    box_format: ClassVar[BoxFormat]  # the box convention the family speaks in text
    default_template: ClassVar[str]  # one user turn; ``{image}`` and ``{text}`` placeholders
    image_placeholder: ClassVar[str]  # what the processor expands into the image tokens
    default_max_pixels: ClassVar[int | None] = None
    default_min_pixels: ClassVar[int | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        descriptor = cls.__dict__.get("descriptor")
        if descriptor is not None:
            cls.family, cls.model_types, cls.box_format = descriptor.name, descriptor.model_types, descriptor.box_format
            cls.default_template = descriptor.template
            cls.default_max_pixels, cls.default_min_pixels = descriptor.max_pixels, descriptor.min_pixels

    def __init__(self, model: Any, processor: Any, *, options: AdapterOptions | None = None,
                 checkpoint: Checkpoint | None = None) -> None:
        self.model = model
        self.processor = processor
        self.options = options or AdapterOptions()
        self.checkpoint = checkpoint  # the published checkpoint detected (its own prompt template), if any
        self.tokenizer = processor.tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.configure_processor()

    def set_options(self, options: AdapterOptions) -> None:
        """Replace the options (and re-apply the pixel budget to the processor)."""
        self.options = options
        self.configure_processor()

    @contextmanager
    def using(self, options: AdapterOptions) -> Iterator[Adapter]:
        """The adapter with ``options`` (processor budget, generation settings) inside the block, its own options
        restored after: how a run passes each pass's settings (``eval.plan.RunPlan``) without leaving them set."""
        before = self.options
        if options == before:
            yield self
            return
        self.set_options(options)
        try:
            yield self
        finally:
            self.set_options(before)

    # ---- loading -----------------------------------------------------------------------------------------
    @classmethod
    def load_processor(cls, path: str) -> Any:
        from transformers import AutoProcessor

        return AutoProcessor.from_pretrained(path)

    def configure_processor(self) -> None:
        """Apply :class:`AdapterOptions` to the processor (pixel budget). Default: nothing to set."""

    # ---- prompts -----------------------------------------------------------------------------------------
    @property
    def image_token_id(self) -> int:
        config = self.model.config
        value = getattr(config, "image_token_id", None)
        return int(value if value is not None else config.image_token_index)

    def chat_text(self, user_text: str, *, images: int = 1) -> str:
        """The full prompt string for one user turn holding ``images`` images and ``user_text``.

        Several images are labelled in order, ``Image 1:`` before the first and so on (the box prompts refer to
        them that way); one image keeps the official single-image prompt unchanged."""
        self.check_image_count(images)
        template = getattr(self.processor, "chat_template", None)
        published = self.checkpoint.template if self.checkpoint is not None else ""
        if self.options.use_chat_template and template and not published:
            content: list[dict[str, str]] = [{"type": "image"}]
            if images > 1:
                content = [part for i in range(images)
                           for part in ({"type": "text", "text": f"Image {i + 1}:"}, {"type": "image"})]
            messages = [{"role": "user", "content": [*content, {"type": "text", "text": user_text}]}]
            text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        else:
            placeholders = self.image_placeholder if images == 1 else "".join(
                f"Image {i + 1}: {self.image_placeholder}\n" for i in range(images))
            text = (published or self.default_template).format(image=placeholders, text=user_text)
        bos = self.tokenizer.bos_token
        if self.prepend_bos and bos and not text.startswith(bos):
            text = bos + text  # inputs are encoded with add_special_tokens=False
        return text

    prepend_bos: ClassVar[bool] = False  # families whose prompts start with the tokenizer's BOS
    max_images: ClassVar[int] = 1  # images one prompt may hold (several: the Qwen families' own token runs)

    def check_image_count(self, count: int) -> None:
        if not 1 <= count <= self.max_images:
            raise InvalidInputError(
                f"the {self.family} adapter takes at most {self.max_images} image(s) per prompt, not {count}",
                fix="evaluate multi-image (sequences) samples with a Qwen-VL family (qwen2_vl, qwen2_5_vl, "
                    "qwen3_vl); see docs/sequences.md")
    nest_images: ClassVar[bool] = False  # processor wants one list of images per text

    def generation_settings(self) -> dict[str, Any]:
        """The exact keyword arguments passed to ``generate`` (snapshot-tested): greedy decoding, or with
        :attr:`AdapterOptions.checkpoint_generation` only the lengths (the checkpoint's generation config)."""
        settings: dict[str, Any] = {"max_new_tokens": self.options.max_new_tokens}
        if not self.options.checkpoint_generation:
            settings = {"do_sample": False, "num_beams": 1, **settings, "temperature": None, "top_p": None,
                        "top_k": None}
        if self.options.min_new_tokens is not None:
            settings["min_new_tokens"] = self.options.min_new_tokens
        return settings

    # ---- encoding ----------------------------------------------------------------------------------------
    def encode(self, images: Sequence[Image.Image], user_texts: Sequence[str], *, record_ids: Sequence[str] = ()
               ) -> Encoded:
        """Left-padded model inputs for ``(image, user text)`` pairs and each row's :class:`ImageLayout`."""
        texts = [self.chat_text(t) for t in user_texts]
        stored = [image.convert("RGB") for image in images]
        rgb = [self.prepare_image(image) for image in stored]
        try:
            batch_images: list[Any] = [[image] for image in rgb] if self.nest_images else rgb
            inputs = self.processor(images=batch_images, text=texts, return_tensors="pt", padding=True,
                                    add_special_tokens=False)
        except (ValueError, TypeError, RuntimeError) as error:
            from vgmed_data.errors import FileFormatError

            ids = ", ".join(record_ids) or "?"
            raise FileFormatError(f"the {self.family} processor rejected the image(s) ({error})", record=ids,
                                  fix="check the image size and mode (at least one patch per side)",
                                  reason=PROCESSOR_REJECTED) from error
        inputs = dict(inputs)
        input_ids = inputs["input_ids"]
        layouts = [self.layout(input_ids[row].tolist(), image.size, inputs, row, record=(record_ids or [""] * len(rgb))[row])
                   for row, image in enumerate(stored)]
        lengths = [int(v) for v in inputs["attention_mask"].sum(dim=1)]
        return Encoded(inputs=inputs, layouts=layouts, texts=texts, prompt_lengths=lengths)

    def prepare_image(self, image: Image.Image) -> Image.Image:
        """The image handed to the processor (an RGB copy of the stored one). Families whose official pipeline
        resizes before the processor override this; the layout still maps from the stored image."""
        return image

    def encode_images(self, images: Sequence[Image.Image], user_text: str, *, record_id: str = ""
                      ) -> tuple[dict[str, Any], list[Transform]]:
        """Model inputs for ONE prompt holding ``images`` (in order) and the transform of each image (stored ->
        model input), for box prompts and for mapping boxes back."""
        self.check_image_count(len(images))
        if len(images) == 1:
            encoded = self.encode(images, [user_text], record_ids=[record_id] if record_id else [])
            return encoded.inputs, [encoded.layouts[0].transform]
        stored = [image.convert("RGB") for image in images]
        rgb = [self.prepare_image(image) for image in stored]
        try:
            inputs = self.processor(images=[rgb] if self.nest_images else rgb,
                                    text=[self.chat_text(user_text, images=len(rgb))], return_tensors="pt",
                                    padding=True, add_special_tokens=False)
        except (ValueError, TypeError, RuntimeError) as error:
            from vgmed_data.errors import FileFormatError

            raise FileFormatError(f"the {self.family} processor rejected the images ({error})",
                                  record=record_id or None, fix="check the image sizes and modes",
                                  reason=PROCESSOR_REJECTED) from error
        inputs = dict(inputs)
        return inputs, self.image_transforms([image.size for image in stored], inputs)

    def image_transforms(self, sizes: Sequence[tuple[int, int]], inputs: dict[str, Any]) -> list[Transform]:
        """Transforms of several images of one prompt (families with :attr:`max_images` > 1 implement it)."""
        raise InvalidInputError(f"the {self.family} adapter cannot map several images of one prompt")

    def image_positions(self, ids: list[int], *, record: str) -> NDArray[np.int64]:
        positions = np.flatnonzero(np.asarray(ids) == self.image_token_id).astype(np.int64)
        if positions.size == 0:
            from vgmed_data.errors import SchemaError

            raise SchemaError(
                f"no image token (id {self.image_token_id}) in the {self.family} prompt", record=record or None,
                fix="the chat template or processor must insert the image placeholder "
                    f"{self.image_placeholder!r}; check the checkpoint's chat_template and processor files")
        return positions

    @abstractmethod
    def layout(self, ids: list[int], image_size: tuple[int, int], inputs: dict[str, Any], row: int, *,
               record: str) -> ImageLayout:
        """The :class:`ImageLayout` of row ``row`` (token ids ``ids``) for a stored image of ``image_size``."""

    # ---- model structure ---------------------------------------------------------------------------------
    @property
    def text_config(self) -> Any:
        return self.model.config.get_text_config()

    @property
    def num_layers(self) -> int:
        return int(self.text_config.num_hidden_layers)

    @property
    def num_heads(self) -> int:
        return int(self.text_config.num_attention_heads)

    def describe(self) -> dict[str, Any]:
        """Settings recorded with every run (and in the prompt snapshots)."""
        described = {"family": self.family, "box_format": self.box_format.value, "layers": self.num_layers,
                     "heads": self.num_heads}
        if self.checkpoint is not None:
            described["checkpoint"] = self.checkpoint.name
        return described
