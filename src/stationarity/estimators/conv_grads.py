"""Per-sample weight gradients of a 2-D convolution: by im2col columns, by polyphase offsets, by
one grouped convolution, or only their norms, from the Gram matrix of the input's positions.

All take the input ``x`` still to be zero-padded by the geometry's ``padding`` and the output
gradient ``delta``. The first three return the per-sample squared norms (N,) and the summed weight
gradient; ``gram_sq_norms`` returns the norms alone.

- ``columns_weight_grad`` builds the im2col columns from k_h·k_w strided slices (several times
  faster than ``F.unfold`` on CPUs) and runs one batched matmul per chunk of samples. It suits
  layers with few input channels, such as the first layer of a network, where the copy is small.
- ``polyphase_weight_grad`` avoids the copy. Kernel offset i reads, for output row y, input row
  y·s + i·d. Writing i·d = q·s + r, that is row y + q of the polyphase image r (every s-th row
  starting at r). Flattened row-major with width W_q, a shift by q rows and q' columns is one
  constant offset into that image, so each kernel offset is one batched matmul of the output
  gradient (laid out with width W_q, zeros past the last output column) with a strided view of
  the input. With stride 1 there is a single polyphase image: the padded input itself. Each
  matmul has C_in/groups columns, so it needs a few input channels to run well.
- ``grouped_weight_grad`` makes the samples groups: the weight gradient of one convolution with
  N·groups groups, over the samples side by side in channels, is the per-sample gradients
  stacked. The convolution library's own weight-gradient kernel does the work, with no copy.
- ``gram_sq_norms`` never forms a gradient. Sample n's gradient is Σ_t δ_t u_tᵀ over output
  positions t, with u_t the im2col column; its squared norm is Σ_{t,s} (u_t·u_s)(δ_t·δ_s). The
  column u_t holds the input at position p(t) + o for each kernel offset o, so
  u_t·u_s = Σ_o P[p(t) + o, p(s) + o], where P is the Gram matrix of the padded input's
  positions. P costs 2·S²·C flops over S input positions, against 2·T²·k_h·k_w·C and an im2col
  copy for the Gram of the columns: it wins where few positions carry many channels (3×3 layers
  at 8×8 and smaller, the deep layers of a ResNet).
"""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

Pair = tuple[int, int]


class Geometry(NamedTuple):
    """A convolution's shape; ``padding`` is a symmetric zero padding still to apply."""

    kernel_size: Pair
    stride: Pair
    dilation: Pair
    padding: Pair
    groups: int


# Bound on the scratch of one chunk of samples (elements; 2^22 floats are 16 MiB). Scratch above
# glibc's 32 MiB mmap ceiling comes from fresh pages on every call, and faulting them in cost
# more than the copy itself (a first ResNet layer: 43 ms per micro-batch at 2^26, 27 at 2^22).
CHUNK_ELEMENTS = 2**22


def columns(x: Tensor, geometry: Geometry, out_shape: Pair) -> Tensor:
    """im2col: (N, C·k_h·k_w, positions), ordered like ``F.unfold`` and the weight's (C, i, j)."""
    (kh, kw), (sh, sw), (dh, dw), padding, _ = geometry
    rows, cols = out_shape
    x = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    # One copy per kernel offset into a preallocated tensor: 3-4x faster than torch.stack here.
    unfolded = x.new_empty(x.shape[0], x.shape[1], kh * kw, rows, cols)
    for i in range(kh):
        for j in range(kw):
            window = x[:, :, i * dh :: sh, j * dw :: sw][:, :, :rows, :cols]
            unfolded[:, :, i * kw + j].copy_(window)
    return unfolded.reshape(x.shape[0], -1, rows * cols)


def position_rows(x: Tensor, geometry: Geometry, out_shape: Pair) -> Tensor:
    """im2col with a sample's positions as rows: (N, positions, k_h·k_w·C), one group only.

    The input goes channels-last first, so each kernel offset copies runs of C contiguous
    numbers. Deep layers have few positions (2×2, 1×1 in a ResNet on 32×32 images); the layout
    of ``columns`` copies runs of that many numbers there, several times slower. Columns are
    ordered (i, j, C), not like the weight's (C, i, j).
    """
    (kh, kw), (sh, sw), (dh, dw), padding, _ = geometry
    rows, cols = out_shape
    x = F.pad(x, (padding[1], padding[1], padding[0], padding[0])).permute(0, 2, 3, 1)
    unfolded = x.new_empty(x.shape[0], rows, cols, kh, kw, x.shape[3])
    for i in range(kh):
        for j in range(kw):
            window = x[:, i * dh :: sh, j * dw :: sw][:, :rows, :cols]
            unfolded[:, :, :, i, j].copy_(window)
    return unfolded.reshape(x.shape[0], rows * cols, -1)


def columns_weight_grad(x: Tensor, delta: Tensor, geometry: Geometry) -> tuple[Tensor, Tensor]:
    """Per-sample squared norms (N,) and summed weight gradient, from im2col columns."""
    _, out_channels, rows, cols = delta.shape
    kernel_size, groups = geometry.kernel_size, geometry.groups
    a = x.shape[1] // groups * kernel_size[0] * kernel_size[1]
    chunk = max(1, CHUNK_ELEMENTS // (a * groups * rows * cols))
    sq_norms, total = [], delta.new_zeros(groups, a, out_channels // groups)
    for x_part, delta_part in zip(x.split(chunk), delta.split(chunk), strict=True):
        unfolded = columns(x_part, geometry, (rows, cols))
        unfolded = unfolded.reshape(-1, a, rows * cols)  # (chunk·groups, a, positions)
        spread = delta_part.reshape(-1, out_channels // groups, rows * cols)
        # Transposed gradients (a × b per sample): this product order runs faster on CPUs.
        grads = torch.bmm(unfolded, spread.mT).reshape(len(x_part), groups, a, -1)
        sq_norms.append(torch.linalg.vector_norm(grads, dim=(1, 2, 3)).square())
        total += grads.sum(0)
    return torch.cat(sq_norms), total.mT.reshape(out_channels, -1, *kernel_size)


def _polyphase(x: Tensor, padding: Pair, shape: Pair, stride: Pair, groups: int) -> Tensor:
    """(s_h, s_w, N·groups, C/groups, rows·columns): x zero-padded, cropped, split by phase."""
    n, channels, height, width = x.shape
    (top, left), (rows, cols), (sh, sw) = padding, shape, stride
    # Negative padding crops the rows and columns that no output reads.
    x = F.pad(x, (left, cols * sw - width - left, top, rows * sh - height - top))
    x = x.reshape(n, channels, rows, sh, cols, sw).permute(3, 5, 0, 1, 2, 4)
    return x.reshape(sh, sw, n * groups, channels // groups, rows * cols)


def polyphase_weight_grad(x: Tensor, delta: Tensor, geometry: Geometry) -> tuple[Tensor, Tensor]:
    """Per-sample squared norms (N,) and summed weight gradient, without an im2col copy."""
    n, out_channels, out_rows, out_cols = delta.shape
    (kh, kw), (sh, sw), (dh, dw), padding, groups = geometry
    row_shift, column_shift = (kh - 1) * dh // sh, (kw - 1) * dw // sw
    # One spare row keeps the last offset's slice inside the image.
    rows, cols = out_rows + row_shift + 1, out_cols + column_shift
    phases = _polyphase(x, padding, (rows, cols), (sh, sw), groups)
    spread = F.pad(delta, (0, cols - out_cols))
    spread = spread.reshape(n * groups, out_channels // groups, out_rows * cols)
    length = out_rows * cols
    b, a = out_channels // groups, x.shape[1] // groups
    sq_norms, total = x.new_zeros(n), x.new_empty(kh * kw, groups, b, a)
    for i in range(kh):
        qh, rh = divmod(i * dh, sh)
        for j in range(kw):
            qw, rw = divmod(j * dw, sw)
            start = qh * cols + qw
            window = phases[rh, rw, :, :, start : start + length]
            # Reduced at once, while the offset's (N·groups, b, a) gradients are still in cache.
            grads = torch.bmm(spread, window.mT).reshape(n, groups, b, a)
            sq_norms += torch.linalg.vector_norm(grads.reshape(n, -1), dim=1).square()
            torch.sum(grads, 0, out=total[i * kw + j])
    return sq_norms, total.permute(1, 2, 3, 0).reshape(out_channels, a, kh, kw)


def _offset_sums(
    gram: Tensor, dims: Pair, size: int, kernel: int, stride: int, dilation: int, padding: int
) -> Tensor:
    """Σ_j gram[.., u·s + j·d − p, .., v·s + j·d − p] over the kernel offsets j, for output
    positions u, v < ``size`` along the two ``dims`` (a position and its partner), with zeros
    where a read falls in the padding."""
    length = gram.shape[dims[0]]
    shape = list(gram.shape)
    shape[dims[0]] = shape[dims[1]] = size
    summed = gram.new_zeros(shape)
    for j in range(kernel):
        shift = j * dilation - padding
        low = max(0, -(shift // stride))  # the first u with u·s + shift ≥ 0
        high = min(size, (length - 1 - shift) // stride + 1)
        if high <= low:
            continue
        reads = slice(low * stride + shift, (high - 1) * stride + shift + 1, stride)
        index = [slice(None)] * gram.dim()
        index[dims[0]] = index[dims[1]] = reads
        window = gram[tuple(index)]
        index[dims[0]] = index[dims[1]] = slice(low, high)
        summed[tuple(index)] += window
    return summed


def gram_sq_norms(x: Tensor, delta: Tensor, geometry: Geometry) -> Tensor:
    """Per-sample squared norms (N,) of the weight gradient, from the Gram of input positions."""
    n, channels, height, width = x.shape
    _, out_channels, out_rows, out_cols = delta.shape
    (kh, kw), (sh, sw), (dh, dw), (top, left), groups = geometry
    x = x.reshape(n * groups, channels // groups, height * width)
    delta = delta.reshape(n * groups, out_channels // groups, out_rows * out_cols)
    chunk = max(1, CHUNK_ELEMENTS // (height * width) ** 2)
    sq_norms = []
    for x_part, delta_part in zip(x.split(chunk), delta.split(chunk), strict=True):
        # P over the unpadded input: the padding's zeros add nothing, so they are skipped.
        gram = torch.bmm(x_part.mT, x_part).view(-1, height, width, height, width)
        # Σ_o P[p(t) + o, p(s) + o], separably: over column offsets, then over row offsets.
        gram = _offset_sums(gram, (2, 4), out_cols, kw, sw, dw, left)
        gram = _offset_sums(gram, (1, 3), out_rows, kh, sh, dh, top)
        spread = torch.bmm(delta_part.mT, delta_part)  # δ_t·δ_s
        sq_norms.append(torch.linalg.vecdot(gram.flatten(1), spread.flatten(1)))
    return torch.cat(sq_norms).view(n, groups).sum(1)


def summed_weight_grad(x: Tensor, delta: Tensor, weight: Tensor, geometry: Geometry) -> Tensor:
    """The weight gradient summed over the samples, as autograd computes it (one convolution)."""
    _, stride, dilation, padding, groups = geometry
    mask = (False, True, False)  # the weight's gradient only
    return torch.ops.aten.convolution_backward(
        delta, x, weight.detach(), None, stride, padding, dilation, False, (0, 0), groups, mask
    )[1]


def grouped_weight_grad(
    x: Tensor, delta: Tensor, weight: Tensor, geometry: Geometry
) -> tuple[Tensor, Tensor]:
    """Per-sample squared norms (N,) and summed weight gradient, by one grouped convolution."""
    _, channels, height, width = x.shape
    out_channels, spatial = delta.shape[1], delta.shape[2:]
    chunk = max(1, CHUNK_ELEMENTS // weight.numel())
    sq_norms, total = [], torch.zeros_like(weight)
    for x_part, delta_part in zip(x.split(chunk), delta.split(chunk), strict=True):
        k = len(x_part)
        # The kernel reads only the shape of the stacked weight, never its values.
        stacked = weight.detach().new_empty(k * out_channels, *weight.shape[1:])
        grads = summed_weight_grad(
            x_part.reshape(1, k * channels, height, width),
            delta_part.reshape(1, k * out_channels, *spatial),
            stacked,
            geometry._replace(groups=k * geometry.groups),
        ).view(k, -1)
        sq_norms.append(torch.linalg.vector_norm(grads, dim=1).square())
        total += grads.sum(0).view(weight.shape)
    return torch.cat(sq_norms), total
