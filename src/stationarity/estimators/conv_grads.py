"""Per-sample weight gradients of a 2-D convolution, without an im2col copy of the input.

Kernel offset i reads, for output row y, input row y·s + i·d. Writing i·d = q·s + r, that is row
y + q of the polyphase image r (every s-th row starting at r). Flattened row-major with width W_q,
a shift by q rows and q' columns is one constant offset into that image, so each kernel offset is
one batched matmul of the output gradient (laid out with width W_q, zeros past the last output
column) with a strided view of the input. With stride 1 there is a single polyphase image: the
padded input itself.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

Pair = tuple[int, int]


def _polyphase(x: Tensor, padding: Pair, shape: Pair, stride: Pair, groups: int) -> Tensor:
    """(s_h, s_w, N·groups, C/groups, rows·columns): x zero-padded, cropped, split by phase."""
    n, channels, height, width = x.shape
    (top, left), (rows, columns), (sh, sw) = padding, shape, stride
    # Negative padding crops the rows and columns that no output reads.
    x = F.pad(x, (left, columns * sw - width - left, top, rows * sh - height - top))
    x = x.reshape(n, channels, rows, sh, columns, sw).permute(3, 5, 0, 1, 2, 4)
    return x.reshape(sh, sw, n * groups, channels // groups, rows * columns)


def conv2d_weight_grad(
    x: Tensor,
    grad_output: Tensor,
    kernel_size: Pair,
    stride: Pair,
    dilation: Pair,
    padding: Pair,
    groups: int,
) -> tuple[Tensor, Tensor]:
    """Per-sample squared norms (N,) and summed weight gradient of a zero-padded convolution."""
    n, out_channels, out_rows, out_columns = grad_output.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    row_shift, column_shift = (kh - 1) * dh // sh, (kw - 1) * dw // sw
    # One spare row keeps the last offset's slice inside the image.
    rows, columns = out_rows + row_shift + 1, out_columns + column_shift
    phases = _polyphase(x, padding, (rows, columns), stride, groups)
    spread = F.pad(grad_output, (0, columns - out_columns))
    spread = spread.reshape(n * groups, out_channels // groups, out_rows * columns)
    length = out_rows * columns
    sq_norms = x.new_zeros(n)
    # (k_h·k_w, groups, C_in/groups, C_out/groups): each offset's slice is reduced while it is
    # still in cache; products run fastest with the strided input view as the left factor.
    total = x.new_empty(kh * kw, groups, x.shape[1] // groups, out_channels // groups)
    for i in range(kh):
        qh, rh = divmod(i * dh, sh)
        for j in range(kw):
            qw, rw = divmod(j * dw, sw)
            start = qh * columns + qw
            window = phases[rh, rw, :, :, start : start + length]
            grads = (window @ spread.mT).reshape(n, groups, *total.shape[2:])
            sq_norms += torch.linalg.vector_norm(grads.flatten(1), dim=1).square()
            total[i * kw + j] = grads.sum(0)
    return sq_norms, total.permute(1, 3, 2, 0).reshape(out_channels, -1, kh, kw)
