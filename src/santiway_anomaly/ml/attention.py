"""Multi-head self-attention over the time axis, used in the bottleneck of the advanced TCN."""

from __future__ import annotations

import torch
from torch import nn


class TemporalAttention(nn.Module):
    """Multi-head self-attention over time with a residual connection and layer norm."""

    def __init__(self, channels: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(channels, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = x.transpose(1, 2)  # (batch, time, channels)
        out, _ = self.attn(seq, seq, seq, need_weights=False)
        normed: torch.Tensor = self.norm(seq + out)
        return normed.transpose(1, 2)
