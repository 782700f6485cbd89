"""Exact per-sample squared gradient norms from one ordinary backward pass.

Every module that owns parameters (a "unit") runs, for the duration of the pass, with its
parameters frozen, and its outputs pass through an identity autograd function. That function's
backward hands the module's inputs and output gradients to the module's closed-form rule
(``layer_rules``) or to the vmap fallback. The rule returns the per-sample squared norms and the
summed parameter gradient, so autograd never computes parameter gradients itself, and the pass
costs little more than a plain one.

A parameter shared by two units (weight tying) makes their closest common ancestor one unit, under
the vmap fallback. A parameter used outside the forward of every unit (``F.linear(x, w)`` in a
module's own forward) is detected after the backward pass and refused.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._pytree import tree_flatten, tree_unflatten

from .gradient_sums import GroupedSums, GroupTotals
from .layer_rules import RULES, LayerCall, Rule
from .losses import LossFn
from .microbatches import (
    Batch,
    group_assignment,
    micro_batch_count,
    on_device,
    trainable_parameters,
)
from .progress import Phase
from .vmap_fallback import vmap_rule


@dataclass(eq=False)
class Unit:
    """A module whose parameters one rule covers, named relative to the module."""

    module: nn.Module
    rule: Rule
    params: dict[str, nn.Parameter]


def _units_below(
    module: nn.Module, path: str, rules: dict[type, Rule], fallback_paths: set[str]
) -> list[tuple[str, Unit]]:
    params = {name: p for name, p in module.named_parameters() if p.requires_grad}
    if not params:
        return []
    rule = rules.get(type(module))
    owns_params = any(p.requires_grad for p in module.parameters(recurse=False))
    if path in fallback_paths or (rule is None and owns_params):
        return [(path, Unit(module, vmap_rule, params))]
    if rule is not None:
        return [(path, Unit(module, rule, params))]
    return [
        unit
        for name, child in module.named_children()
        for unit in _units_below(child, f"{path}.{name}" if path else name, rules, fallback_paths)
    ]


def _common_ancestor(paths: list[str]) -> str:
    parts = [path.split(".") if path else [] for path in paths]
    common = []
    for names in zip(*parts, strict=False):
        if len(set(names)) > 1:
            break
        common.append(names[0])
    return ".".join(common)


def find_units(model: nn.Module, rules: dict[type, Rule] = RULES) -> list[Unit]:
    """Split the model's trainable parameters into units that each own them exclusively."""
    fallback_paths: set[str] = set()
    while True:
        units = _units_below(model, "", rules, fallback_paths)
        owners = defaultdict(list)
        for path, unit in units:
            for param in unit.params.values():
                owners[param].append(path)
        shared = [paths for paths in owners.values() if len(paths) > 1]
        if not shared:
            return [unit for _, unit in units]
        fallback_paths |= {_common_ancestor(paths) for paths in shared}


class _Tally:
    """Per-sample squared norms and summed gradients, per micro-batch and over the pass."""

    def __init__(self, params: list[nn.Parameter], device: torch.device):
        self.anchor = torch.zeros((), device=device, requires_grad=True)
        self.params = params
        self.batch_size = 0
        self.called: set[Unit] = set()
        self.totals: dict[nn.Parameter, Tensor] = {}
        self.sq_norms: list[Tensor] = []

    def start(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.called.clear()
        self.totals.clear()
        self.sq_norms.clear()

    def record(self, unit: Unit, call: LayerCall) -> None:
        grads = unit.rule(call)
        for name, param in unit.params.items():
            total = grads[name].total
            if total.shape != param.shape:
                raise RuntimeError(
                    f"the rule for {type(unit.module).__name__} returned a gradient of {name} "
                    f"with shape {tuple(total.shape)}; the parameter has {tuple(param.shape)}"
                )
            self.sq_norms.append(grads[name].sq_norms)
            self.totals[param] = total

    def finish(self) -> tuple[list[Tensor | None], Tensor]:
        """The micro-batch's summed gradient per parameter (None where a parameter has none)
        and Σ_i ‖G_i‖² (float64)."""
        # One stack and sum per micro-batch rather than one per parameter: on small models the
        # per-operation overhead would cost more than the arithmetic.
        if self.sq_norms:
            sq_norms = torch.stack(self.sq_norms).sum(dtype=torch.float64)
        else:
            sq_norms = torch.zeros((), dtype=torch.float64, device=self.anchor.device)
        return [self.totals.get(p) for p in self.params], sq_norms


def _flatten(tree: Any) -> tuple[list, Any]:
    """``tree_flatten`` with fast paths for a lone tensor and for tensor-only positional calls.

    A generic pytree walk costs tens of microseconds, several times per unit and micro-batch;
    small models would spend more on it than on their arithmetic.
    """
    if isinstance(tree, Tensor):
        return [tree], _TENSOR
    if (
        isinstance(tree, tuple)
        and len(tree) == 2
        and type(tree[0]) is tuple
        and tree[1] == {}
        and all(isinstance(v, Tensor) for v in tree[0])
    ):
        return list(tree[0]), _TENSOR_ARGS
    return tree_flatten(tree)


def _unflatten(leaves: list, spec: Any) -> Any:
    """The inverse of :func:`_flatten`."""
    if spec is _TENSOR:
        return leaves[0]
    if spec is _TENSOR_ARGS:
        return tuple(leaves), {}
    return tree_unflatten(leaves, spec)


_TENSOR, _TENSOR_ARGS = object(), object()


def _with_tensors(leaves: list, tensors: Iterable[Tensor]) -> list:
    """``leaves`` with its tensors replaced, in order, by ``tensors``."""
    replacements = iter(tensors)
    return [next(replacements) if isinstance(v, Tensor) else v for v in leaves]


@dataclass(eq=False)
class _Call:
    """One call of a unit: its arguments, to rebuild them for the rule in the backward pass."""

    unit: Unit
    forward: Any
    tally: _Tally
    flat_args: list
    args_spec: Any

    def tensors(self) -> list[Tensor]:
        return [v.detach() for v in self.flat_args if isinstance(v, Tensor)]

    def record(self, tensors: tuple[Tensor, ...], grad_outputs: tuple[Tensor, ...]) -> None:
        args, kwargs = _unflatten(_with_tensors(self.flat_args, tensors), self.args_spec)
        module = self.unit.module
        # A rule may call the module (the vmap fallback does): give it the untapped forward.
        tapped, module.forward = module.forward, self.forward
        try:
            self.tally.record(self.unit, LayerCall(module, args, kwargs, grad_outputs))
        finally:
            module.forward = tapped


class _Tap(torch.autograd.Function):
    """Identity on a unit's outputs; its backward hands the unit's call to the unit's rule.

    The anchor (a scalar that requires grad) keeps the outputs in the graph even where neither
    the inputs nor the (frozen) parameters require grad, as in a first layer.
    """

    @staticmethod
    def forward(ctx, call: _Call, anchor: Tensor, *outputs: Tensor) -> tuple[Tensor, ...]:
        ctx.call = call
        ctx.save_for_backward(*call.tensors())
        results = tuple(o.detach() for o in outputs)
        ctx.mark_non_differentiable(*(r for r in results if not r.is_floating_point()))
        return results

    @staticmethod
    def backward(ctx, *grad_outputs: Tensor) -> tuple[Tensor | None, ...]:
        ctx.call.record(ctx.saved_tensors, grad_outputs)
        return (None, None, *grad_outputs)


def _check_batch_dim(unit: Unit, outputs: list[Tensor], batch_size: int) -> None:
    for output in outputs:
        if output.is_floating_point() and (output.dim() == 0 or output.shape[0] != batch_size):
            raise ValueError(
                f"{type(unit.module).__name__} returned shape {tuple(output.shape)}: "
                f"per-sample gradients need the batch ({batch_size}) on dim 0 "
                "(e.g. expand position ids to (batch, length) before an Embedding)"
            )


def _tapped_forward(unit: Unit, forward: Any, tally: _Tally, *args: Any, **kwargs: Any) -> Any:
    if unit in tally.called:
        raise NotImplementedError(
            f"{type(unit.module).__name__} runs twice in one forward pass: its per-sample "
            "gradient is the sum over both calls, which per-call rules cannot square"
        )
    tally.called.add(unit)
    # Frozen for the call, the parameters get no gradient from autograd (the rule supplies it),
    # and every operation of the module stays in the one ordinary graph. All are frozen, not
    # only the unit's own: a rule may cover a tied weight that another unit owns (lm_rules).
    params = tally.params
    for param in params:
        param.requires_grad_(False)
    try:
        output = forward(*args, **kwargs)
    finally:
        for param in params:
            param.requires_grad_(True)
    leaves, out_spec = _flatten(output)
    outputs = [v for v in leaves if isinstance(v, Tensor)]
    _check_batch_dim(unit, outputs, tally.batch_size)
    call = _Call(unit, forward, tally, *_flatten((args, kwargs)))
    return _unflatten(_with_tensors(leaves, _Tap.apply(call, tally.anchor, *outputs)), out_spec)


@contextmanager
def _tapped(units: list[Unit], tally: _Tally) -> Iterator[None]:
    """Route each unit's forward through ``_Tap`` and restore the original afterwards."""
    originals = [unit.module.__dict__.get("forward") for unit in units]
    for unit in units:
        unit.module.forward = partial(_tapped_forward, unit, unit.module.forward, tally)
    try:
        yield
    finally:
        for unit, original in zip(units, originals, strict=True):
            if original is None:
                del unit.module.forward
            else:
                unit.module.forward = original


def per_sample_pass(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: LossFn,
    rules: dict[type, Rule] = RULES,
    groups: int = 1,
    phase: Phase | None = None,
) -> GroupedSums:
    """Loss, summed gradient and Σ_i ‖G_i‖² over all samples, one backward per micro-batch,
    per group of micro-batches; resumable by ``phase``."""
    params = trainable_parameters(model)
    names = {p: name for name, p in model.named_parameters()}
    units = find_units(model, rules)
    device = params[0].device
    tally = _Tally(params, device)
    totals = GroupTotals(group_assignment(micro_batch_count(batches), groups), params, phase=phase)
    with _tapped(units, tally):
        for inputs, targets in on_device(batches, device, start=totals.start):
            tally.start(len(targets))
            loss, count = loss_fn(model(inputs), targets)
            stray = torch.autograd.grad(loss, [tally.anchor, *params], allow_unused=True)[1:]
            used_outside = [names[p] for p, g in zip(params, stray, strict=True) if g is not None]
            if used_outside:
                raise RuntimeError(
                    f"parameters used outside the forward of the module that owns them: "
                    f"{used_outside}; register a rule for a module that covers every use"
                )
            totals.add(loss, count, len(targets), *tally.finish())
    return totals.grouped()
