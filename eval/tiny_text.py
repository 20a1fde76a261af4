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


def write_json(path: Path, data: dict[str, Any]) -> None:
    """A checkpoint's JSON file as ``save_pretrained`` writes it: indented, keys sorted, parents created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
