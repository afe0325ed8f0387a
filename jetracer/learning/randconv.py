"""Random-convolution restyling of training batches (RandConv: Xu, Liu, Wang, Niethammer, ICLR 2021).

Why: a starter trained in the simulator meets real cameras whose colours, textures and blur no renderer
has. RandConv passes each chosen image through a random linear filter (a k x k convolution mixing the three
colour channels, k in 1, 3, 5, 7), so colour and texture stop being reliable cues while shapes (the tape,
the road's edge) stay where they were: the label stays true. The filtered image is matched to the frame's
own per-channel mean and spread and blended with it by a random weight, so the batch statistics the
network sees are unchanged.

It runs on whole normalised batches on the training device (one grouped convolution; on the CPU preset
47-49 images/s with and without it), drawn from torch's CPU generator, which the resume state keeps, so a
seeded run repeats and a resumed run goes on as it would have. Measured: ``README.md``, "From the simulator to
your track".
"""
from typing import Sequence

import torch
import torch.nn.functional as F

KERNEL_SIZES = (1, 3, 5, 7)


class RandConv(object):
    """Restyle each image of a batch with probability ``p`` (0 leaves every batch untouched)."""

    def __init__(self, p: float, kernel_sizes: Sequence[int] = KERNEL_SIZES) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError("randconv: expected a probability in [0, 1], found %r" % (p,))
        if not kernel_sizes or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError("randconv: kernel sizes must be odd and positive, found %r" % (list(kernel_sizes),))
        self.p = float(p)
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.size = max(self.kernel_sizes)

    def kernels(self, n: int, channels: int) -> torch.Tensor:
        """``n`` random filters, ``n x channels x channels x size x size``: each a k x k kernel (k drawn per
        image) zero-padded to the largest size, weights N(0, 1 / (channels k^2)) as the paper draws them."""
        sizes = torch.tensor(self.kernel_sizes)[torch.randint(len(self.kernel_sizes), (n,))]
        weights = torch.randn(n, channels, channels, self.size, self.size)
        centre = torch.arange(self.size) - self.size // 2
        inside = centre.abs()[None, :] <= (sizes[:, None] // 2)                   # n x size: within k // 2
        mask = (inside[:, :, None] & inside[:, None, :]).float()                  # n x size x size
        std = 1.0 / (channels * sizes.float() ** 2).sqrt()
        return weights * mask[:, None, None] * std[:, None, None, None, None]

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """``batch`` N x C x H x W (float) -> the same shape, dtype and device, the chosen images restyled."""
        if self.p <= 0.0:
            return batch
        n, c = batch.shape[:2]
        chosen = torch.rand(n) < self.p
        if not bool(chosen.any()):
            return batch
        idx = chosen.nonzero().flatten().to(batch.device)
        x = batch.index_select(0, idx).float()
        m = x.shape[0]
        w = self.kernels(m, c).to(x.device).reshape(m * c, c, self.size, self.size)
        alpha = torch.rand(m).to(x.device)[:, None, None, None]
        pad = self.size // 2
        padded = F.pad(x.reshape(1, m * c, *x.shape[2:]), (pad, pad, pad, pad), mode="reflect")
        y = F.conv2d(padded, w, groups=m).reshape(x.shape)
        mean, std = x.mean(dim=(2, 3), keepdim=True), x.std(dim=(2, 3), keepdim=True)
        y_mean, y_std = y.mean(dim=(2, 3), keepdim=True), y.std(dim=(2, 3), keepdim=True)
        y = (y - y_mean) / (y_std + 1e-6) * std + mean
        out = batch.clone()
        out[idx] = (alpha * x + (1.0 - alpha) * y).to(batch.dtype)
        return out
