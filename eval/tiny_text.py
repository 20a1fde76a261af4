"""The language-model parts every tiny checkpoint shares (eval.tiny, eval.tiny_original): the decoder sizes
and a byte-level tokenizer built in code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vgmed_data.errors import require

TEXT_DIMS: dict[str, Any] = {
    "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4,
    "num_key_value_heads": 2, "max_position_embeddings": 8192,
}


def byte_level_tokenizer(specials: list[str], **token_roles: str):  # noqa: ANN201 - PreTrainedTokenizerFast
    """A byte-level BPE whose vocabulary is the 256 byte symbols (no merges) plus ``specials``.

    ``token_roles`` maps tokenizer roles (``bos_token``, ``eos_token``, ``pad_token``, ``unk_token``) to
    members of ``specials``. Every text round-trips; one byte is one token, so prompts stay short but real.
    """
    tokenizers = require("tokenizers", extra="eval", purpose="building a tiny tokenizer")
    transformers = require("transformers", extra="eval", purpose="building a tiny tokenizer")
    from tokenizers import decoders, models, pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {symbol: index for index, symbol in enumerate(sorted(alphabet))}
    backend = tokenizers.Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([tokenizers.AddedToken(t, special=True, normalized=False) for t in specials])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, **token_roles)


# Qwen2's pre-tokenizer split (the Split pattern of Qwen2's tokenizer.json), before the byte-level mapping
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")


def qwen2_bpe_tokenizer(specials: list[str], *, vocab_size: int = 512, **token_roles: str | None):  # noqa: ANN201
    """A Qwen2-form byte-level BPE WITH merges, trained on :data:`TINY_CORPUS`: the 256 byte symbols, merges up
    to ``vocab_size``, then ``specials``; NFC normaliser, Qwen2's regex split then the byte-level mapping
    (no prefix space), byte-level decoder, as Qwen2's ``tokenizer.json`` has them. ``token_roles`` as in
    :func:`byte_level_tokenizer` (``None`` for a role the tokenizer lacks, such as Qwen2's BOS)."""
    tokenizers = require("tokenizers", extra="eval", purpose="building a tiny tokenizer")
    transformers = require("transformers", extra="eval", purpose="building a tiny tokenizer")
    from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers, processors, trainers

    backend = tokenizers.Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(TINY_CORPUS, trainer=trainer)
    backend.add_special_tokens([tokenizers.AddedToken(t, special=True, normalized=False) for t in specials])
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, **token_roles)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """A checkpoint's JSON file as ``save_pretrained`` writes it: indented, keys sorted, parents created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


# What the tiny trained tokenizers learn their pieces from: the prompts' own words, so prompts tokenize into
# multi-character pieces (and anything else still round-trips through byte fallback / byte-level symbols).
TINY_CORPUS = (
    "Write a general description of the image. Answer the question using a single word or phrase.",
    "Which organ is in the box? What is shown in the region? Answer with the option's letter from the given choices "
    "directly. A. liver B. spleen C. kidney D. lung",
    "[INST] USER: ASSISTANT: <|user|> <|assistant|> Is the lesion on the left or the right? Yes. No. 0 1 2 3 4 5 6 7 8 9",
)


def sentencepiece_model(*, vocab_size: int, bos_piece: str = "<s>", eos_piece: str = "</s>") -> bytes:
    """A SentencePiece BPE model (the ``tokenizer.model`` of Llama/Mistral checkpoints) trained on
    :data:`TINY_CORPUS`: ``<unk>`` 0, ``bos_piece`` 1, ``eos_piece`` 2 (Yi names them ``<|startoftext|>`` and
    ``<|endoftext|>``), the 256 byte-fallback pieces, then merges; the
    dummy ``▁`` prefix and whitespace kept as Llama's normaliser does (identity rule, no whitespace folding).
    Training is single-threaded, so the bytes are the same on every run."""
    import io

    spm = require("sentencepiece", extra="test", purpose="writing a tiny SentencePiece tokenizer")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TINY_CORPUS * 8), model_writer=model, vocab_size=vocab_size, model_type="bpe",
        byte_fallback=True, character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, bos_piece=bos_piece,
        eos_piece=eos_piece, add_dummy_prefix=True,
        normalization_rule_name="identity", remove_extra_whitespaces=False, split_digits=True,
        allow_whitespace_only_pieces=True, hard_vocab_limit=False, num_threads=1, minloglevel=2)
    return model.getvalue()


def write_qwen2_tokenizer_files(out: Path, tokenizer: Any, *, processor: str | None = "LlavaProcessor") -> None:
    """The slow-tokenizer files a Qwen2 checkpoint of 2024 ships beside ``tokenizer.json``: ``vocab.json`` and
    ``merges.txt`` (of the tiny byte-level BPE), ``added_tokens.json``, ``special_tokens_map.json`` and a
    ``tokenizer_config.json`` naming ``Qwen2Tokenizer`` with its added tokens (and ``processor``, unless None)."""

    tokenizer.backend_tokenizer.model.save(str(out))
    added = tokenizer.get_added_vocab()
    write_json(out / "added_tokens.json", added)
    write_json(out / "special_tokens_map.json", {"eos_token": tokenizer.eos_token, "pad_token": tokenizer.pad_token})
    decoder = {str(index): {"content": token, "lstrip": False, "normalized": False, "rstrip": False,
                            "single_word": False, "special": True} for token, index in added.items()}
    write_json(out / "tokenizer_config.json", {
        "add_prefix_space": False, "added_tokens_decoder": decoder, "bos_token": None,
        "clean_up_tokenization_spaces": False, "eos_token": tokenizer.eos_token, "errors": "replace",
        "model_max_length": 32768, "pad_token": tokenizer.pad_token, "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer", "unk_token": None, **({"processor_class": processor} if processor else {})})
