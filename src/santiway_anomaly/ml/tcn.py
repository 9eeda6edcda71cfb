"""TCN autoencoders over a (batch, time, features) window: the basic one and the attention variant.

Encoder: a 1x1 input projection, then residual blocks of dilated 1-D convolutions (dilation 1, 2,
4, ...: the receptive field covers the whole 24-hour window with few layers), then a 1x1
bottleneck to a few channels. Decoder: the mirror image back to the input channels.
The convolutions are non-causal ("same" padding): an autoencoder reconstructs a finished window,
so both neighbours of an hour are fair evidence.

The advanced variant puts multi-head self-attention (8 heads by default) over the time axis
in the bottleneck, so an hour can be reconstructed from any other hour of the window (the same
hour's pattern at another time of day), not only from its convolutional neighbourhood.
"""

from __future__ import annotations

import torch
from torch import nn

from santiway_anomaly.ml.attention import TemporalAttention


class ResidualBlock(nn.Module):
    """x + ReLU(dilated conv(x)): one level of the TCN.

    One convolution per block (not the usual two): on 2 CPU cores the second one halved the
    scoring throughput without improving reconstruction on our data (benchmarks/ml.py).
    """

    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        pad = (kernel_size - 1) * dilation // 2
        self.conv = nn.Conv1d(channels, channels, kernel_size, padding=pad, dilation=dilation)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = x + self.drop(torch.relu(self.conv(x)))
        return out


class TCNAutoencoder(nn.Module):
    """Reconstructs a (batch, time, in_channels) window; the error is the anomaly evidence.

    The input and output projections are `Linear` layers on the time-major layout the features come
    in (a 1x1 convolution computes the same): a plain matrix product, about 3x faster on CPU than
    oneDNN's 1x1 convolution, and no transposed copy of the 98-channel input (benchmarks/ml.py).
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int = 32,
        levels: int = 3,
        kernel_size: int = 3,
        bottleneck: int = 8,
        attention: bool = False,
        heads: int = 8,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd for same-length output, got {kernel_size}")
        if attention and hidden % heads != 0:
            raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads}) for attention")
        dil = [2**i for i in range(levels)]
        self.inp = nn.Linear(in_channels, hidden)
        self.encoder = nn.Sequential(*[ResidualBlock(hidden, kernel_size, d, dropout) for d in dil])
        self.attention = TemporalAttention(hidden, heads, dropout) if attention else None
        self.down = nn.Conv1d(hidden, bottleneck, 1)
        self.up = nn.Conv1d(bottleneck, hidden, 1)
        self.decoder = nn.Sequential(*[ResidualBlock(hidden, kernel_size, d, dropout) for d in reversed(dil)])
        self.out = nn.Linear(hidden, in_channels)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.inp(x)).transpose(1, 2).contiguous()  # (batch, hidden, time) for the convolutions
        h = self.encoder(h)
        if self.attention is not None:
            h = self.attention(h)
        z = self.act(self.down(h))
        h = self.decoder(self.act(self.up(z)))
        out: torch.Tensor = self.out(h.transpose(1, 2))
        return out
