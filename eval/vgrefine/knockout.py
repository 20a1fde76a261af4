"""Step II, knockout: in the masked layers (all heads), the query rows from the first token after the image
through the last prompt token cannot attend to the blocked image tokens. Prefill only; decoding is untouched.

:class:`Knockout` holds that geometry in absolute sequence positions and renders it two ways: a dense additive
``[T, T]`` mask for the naive reference (``-inf`` at blocked cells) and an edit of the boolean SDPA mask for the
fast path, where queries and keys may be a suffix of the sequence (KV cache) or a sliding window. Query row ``r``
of a ``q``-row block is position ``T - q + r``, key column ``j`` of ``k`` keys is position ``T - k + j``: true for
a prefill that ends at the last prompt token, with or without a cached prefix and a sliding-window cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from vgmed_data.errors import InvalidInputError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Knockout:
    """Rows ``[first_row, prompt_length)`` of ``layers`` cannot see key positions ``blocked_positions``."""

    first_row: int
    prompt_length: int
    blocked_positions: NDArray[np.int64]
    layers: frozenset[int]

    def __post_init__(self) -> None:
        if not 0 < self.first_row <= self.prompt_length:
            raise InvalidInputError(f"knockout rows start at {self.first_row}, outside a {self.prompt_length}-token "
                                    "prompt")
        if self.blocked_positions.size and int(self.blocked_positions.max()) >= self.first_row:
            raise InvalidInputError("blocked tokens must lie before the first knocked-out row (inside the image)")

    def additive_mask(self, *, dtype: "torch.dtype", device: "torch.device | str") -> "torch.Tensor":
        """Dense ``[1, 1, T, T]`` additive mask: ``-inf`` at (knocked-out row, blocked column), else 0."""
        import torch

        mask = torch.zeros(self.prompt_length, self.prompt_length, dtype=dtype, device=device)
        columns = torch.as_tensor(self.blocked_positions, dtype=torch.long, device=device)
        mask[self.first_row:, columns] = float("-inf")
        return mask[None, None]

    def edit_sdpa_mask(self, mask: "torch.Tensor | None", *, q_len: int, k_len: int, device: "torch.device"
                       ) -> "torch.Tensor":
        """The boolean SDPA mask (True = may attend) of a ``q_len`` x ``k_len`` block with the knockout applied.

        ``None`` (SDPA skipped the mask: causal, no padding, no window) is first materialised as causal."""
        import torch

        total = self.prompt_length
        query_pos = torch.arange(total - q_len, total, device=device)
        key_pos = torch.arange(total - k_len, total, device=device)
        if mask is None:
            allowed = (key_pos[None, :] <= query_pos[:, None])[None, None]
        elif mask.dtype == torch.bool:
            allowed = mask.clone()
        else:
            allowed = mask > torch.finfo(mask.dtype).min / 2
        rows = query_pos >= self.first_row
        blocked = torch.zeros(k_len, dtype=torch.bool, device=device)
        columns = torch.as_tensor(self.blocked_positions, dtype=torch.long, device=device) - (total - k_len)
        blocked[columns[(columns >= 0) & (columns < k_len)]] = True
        knocked = rows[:, None] & blocked[None, :]
        return allowed & ~knocked[None, None]
