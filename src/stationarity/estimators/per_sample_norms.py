"""Exact per-sample squared gradient norms from one ordinary backward pass.

Every module that owns parameters (a "unit") runs, for the duration of the pass, inside a custom
autograd function. Its backward hands the module's inputs and output gradients to the module's
closed-form rule (``layer_rules``) or to the vmap fallback, and passes only the input gradients on.
The rule returns the per-sample squared norms and the summed parameter gradient, so autograd never
computes parameter gradients itself, and the pass costs little more than a plain one.

A parameter shared by two units (weight tying) makes their closest common ancestor one unit, under
the vmap fallback. A parameter used outside its unit's forward (``F.linear(x, other.weight)``) is
detected after the backward pass and refused.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._pytree import tree_flatten, tree_unflatten

from .gradient_sums import BatchTotals, GradientSums
from .layer_rules import RULES, LayerCall, Rule
from .losses import LossFn
from .microbatches import Batch, flatten, on_device, trainable_parameters
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
    """Per-sample squared norms of the current micro-batch and summed gradients of the pass."""

    def __init__(self, units: list[Unit], device: torch.device):
        self.anchor = torch.zeros((), device=device, requires_grad=True)
        self.grads = {
            p: torch.zeros_like(p, dtype=torch.float64) for u in units for p in u.params.values()
        }
        self.sq_norm_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.batch_size = 0
        self.sq_norms = self.sq_norm_sum
        self.called: set[Unit] = set()

    def start(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.sq_norms = self.sq_norm_sum.new_zeros(batch_size)
        self.called.clear()

    def record(self, unit: Unit, call: LayerCall) -> None:
        grads = unit.rule(call)
        for name, param in unit.params.items():
            self.sq_norms += grads[name].sq_norms
            self.grads[param] += grads[name].total

    def finish(self) -> None:
        self.sq_norm_sum += self.sq_norms.sum()


@dataclass(eq=False)
class _Call:
    """One call of a unit: how to rebuild its arguments and outputs around the tapped tensors."""

    unit: Unit
    forward: Any
    tally: _Tally
    flat_args: list
    args_spec: Any
    out_leaves: list | None = None
    out_spec: Any = None

    def with_tensors(self, tensors: Iterable[Tensor]) -> tuple[tuple, dict]:
        replacements = iter(tensors)
        flat = [next(replacements) if isinstance(v, Tensor) else v for v in self.flat_args]
        return tree_unflatten(flat, self.args_spec)

    def run(self, tensors: list[Tensor]) -> list[Tensor]:
        args, kwargs = self.with_tensors(tensors)
        self.out_leaves, self.out_spec = tree_flatten(self.forward(*args, **kwargs))
        outputs = [o for o in self.out_leaves if isinstance(o, Tensor)]
        for output in outputs:
            if output.is_floating_point() and (
                output.dim() == 0 or output.shape[0] != self.tally.batch_size
            ):
                raise ValueError(
                    f"{type(self.unit.module).__name__} returned shape {tuple(output.shape)}: "
                    f"per-sample gradients need the batch ({self.tally.batch_size}) on dim 0 "
                    "(e.g. expand position ids to (batch, length) before an Embedding)"
                )
        return outputs

    def record(self, tensors: tuple[Tensor, ...], grad_outputs: tuple[Tensor, ...]) -> None:
        args, kwargs = self.with_tensors(t.detach() for t in tensors)
        module = self.unit.module
        # A rule may call the module (the vmap fallback does): give it the untapped forward.
        tapped, module.forward = module.forward, self.forward
        try:
            self.tally.record(self.unit, LayerCall(module, args, kwargs, grad_outputs))
        finally:
            module.forward = tapped

    def outputs(self, tensors: tuple[Tensor, ...]) -> Any:
        replacements = iter(tensors)
        flat = [next(replacements) if isinstance(v, Tensor) else v for v in self.out_leaves]
        return tree_unflatten(flat, self.out_spec)


class _Tap(torch.autograd.Function):
    """Runs a unit's forward; its backward records the unit's per-sample gradients."""

    @staticmethod
    def forward(ctx, call: _Call, anchor: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
        needs_grad = ctx.needs_input_grad[2:]
        inner = [t.detach().requires_grad_(n) for t, n in zip(tensors, needs_grad, strict=True)]
        # Only input gradients flow through the inner graph; the rule supplies parameter ones.
        with torch.enable_grad() if any(needs_grad) else nullcontext():
            outputs = call.run(inner)
        ctx.call, ctx.inner_inputs, ctx.inner_outputs = call, inner, outputs
        ctx.save_for_backward(*tensors)
        results = tuple(o.detach() for o in outputs)
        ctx.mark_non_differentiable(*(r for r in results if not r.is_floating_point()))
        return results

    @staticmethod
    def backward(ctx, *grad_outputs: Tensor) -> tuple[Tensor | None, ...]:
        tensors = ctx.saved_tensors
        ctx.call.record(tensors, grad_outputs)
        input_grads: list[Tensor | None] = [None] * len(tensors)
        wanted = [i for i, t in enumerate(ctx.inner_inputs) if t.requires_grad]
        outputs = zip(ctx.inner_outputs, grad_outputs, strict=True)
        pairs = [(o, g) for o, g in outputs if o.requires_grad]
        if wanted and pairs:
            outputs, output_grads = zip(*pairs, strict=True)
            found = torch.autograd.grad(
                outputs, [ctx.inner_inputs[i] for i in wanted], output_grads, allow_unused=True
            )
            for i, g in zip(wanted, found, strict=True):
                input_grads[i] = g
        return (None, None, *input_grads)


def _tapped_forward(unit: Unit, forward: Any, tally: _Tally, *args: Any, **kwargs: Any) -> Any:
    if unit in tally.called:
        raise NotImplementedError(
            f"{type(unit.module).__name__} runs twice in one forward pass: its per-sample "
            "gradient is the sum over both calls, which per-call rules cannot square"
        )
    tally.called.add(unit)
    flat_args, args_spec = tree_flatten((args, kwargs))
    call = _Call(unit, forward, tally, flat_args, args_spec)
    tensors = [v for v in flat_args if isinstance(v, Tensor)]
    return call.outputs(_Tap.apply(call, tally.anchor, *tensors))


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
) -> GradientSums:
    """Loss, summed gradient and Σ_i ‖G_i‖² over all samples, one backward per micro-batch."""
    params = trainable_parameters(model)
    names = {p: name for name, p in model.named_parameters()}
    units = find_units(model, rules)
    device = params[0].device
    tally = _Tally(units, device)
    totals = BatchTotals(device)
    with _tapped(units, tally):
        for inputs, targets in on_device(batches, device):
            tally.start(len(targets))
            loss, count = loss_fn(model(inputs), targets)
            stray = torch.autograd.grad(loss, [tally.anchor, *params], allow_unused=True)[1:]
            used_outside = [names[p] for p, g in zip(params, stray, strict=True) if g is not None]
            if used_outside:
                raise RuntimeError(
                    f"parameters used outside the forward of the module that owns them: "
                    f"{used_outside}; register a rule for a module that covers every use"
                )
            tally.finish()
            totals.add(loss, count, len(targets))
    return totals.sums(flatten(tally.grads[p] for p in params), float(tally.sq_norm_sum))
