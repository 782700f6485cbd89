"""The Gram matrix of vectors given in parts, and the group sums that keep autograd's tensors."""

import pytest
import torch
from torch import nn

from stationarity.estimators import gram
from stationarity.estimators.gradient_sums import GroupTotals


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_gram_of_parts_equals_that_of_flat_vectors_across_chunk_edges(monkeypatch):
    monkeypatch.setattr(gram, "GRAM_CHUNK", 7)  # parts of 5, 1, 12 and 3 straddle chunks of 7
    shapes = [(5,), (1,), (3, 4), (3,)]
    flats = torch.randn(3, 21, generator=_seeded(0))
    in_parts = [
        [
            piece.reshape(shape)
            for piece, shape in zip(row.split([5, 1, 12, 3]), shapes, strict=True)
        ]
        for row in flats[:2]
    ]
    mixed = gram.gram_matrix([*in_parts, flats[2]], torch.device("cpu"))
    exact = flats.double() @ flats.double().T
    assert torch.allclose(mixed, exact, rtol=1e-12, atol=0)


def _totals(params: list[nn.Parameter]) -> GroupTotals:
    return GroupTotals([0, 0, 1], params)


def _add(totals: GroupTotals, grads: list[torch.Tensor]) -> None:
    totals.add(torch.tensor(1.0), torch.tensor(2), 2, grads)


def test_a_cell_keeps_its_first_gradient_and_adds_the_next_in_place():
    params = [nn.Parameter(torch.zeros(4)), nn.Parameter(torch.zeros(2, 3))]
    first = [torch.ones(4), torch.full((2, 3), 2.0)]
    totals = _totals(params)
    _add(totals, first)
    _add(totals, [torch.ones(4), None])
    _add(totals, [torch.ones(4), torch.ones(2, 3)])
    cell = totals.grouped().cells[(0, 0)]
    assert cell.grad[0] is first[0]  # no copy of autograd's tensor
    assert cell.grad[0].tolist() == [2.0] * 4 and cell.grad[1].tolist() == [[2.0] * 3] * 2
    assert cell.samples == 4 and cell.tokens == 4


def test_a_cell_copies_a_view_and_fills_a_missing_gradient_with_zeros():
    params = [nn.Parameter(torch.zeros(4)), nn.Parameter(torch.zeros(3))]
    wide = torch.arange(8.0)
    totals = _totals(params)
    _add(totals, [wide[:4], None])  # a view of a larger result: its base must not be kept
    _add(totals, [torch.ones(4), torch.ones(3)])
    _add(totals, [torch.ones(4), torch.ones(3)])
    cells = totals.grouped().cells
    assert cells[(0, 0)].grad[0]._base is None
    assert cells[(0, 0)].grad[0].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert wide.tolist() == list(map(float, range(8)))  # the view's base is untouched
    assert cells[(0, 0)].grad[1].tolist() == [1.0] * 3


def test_a_cell_keeps_a_channels_last_gradient_and_sums_it_like_a_flat_one():
    params = [nn.Parameter(torch.zeros(2, 3, 2, 2))]
    first = torch.randn(2, 3, 2, 2, generator=_seeded(1)).to(memory_format=torch.channels_last)
    second = torch.randn(2, 3, 2, 2, generator=_seeded(2))
    expected = (first + second).reshape(-1).double()  # before the cell adds into ``first``
    totals = _totals(params)
    for grads in ([first], [second], [second]):
        _add(totals, grads)
    grouped = totals.grouped()
    assert grouped.cells[(0, 0)].grad[0] is first
    assert float(grouped.gram[0, 0]) == pytest.approx(float(expected @ expected), rel=1e-12)


def test_sums_in_parts_refuse_to_add_before_they_are_made_flat():
    params = [nn.Parameter(torch.zeros(2))]
    totals = _totals(params)
    for _ in range(3):
        _add(totals, [torch.ones(2)])
    cells = list(totals.grouped().cells.values())
    with pytest.raises(TypeError, match="in parts add only once flat"):
        cells[0] + cells[1]
