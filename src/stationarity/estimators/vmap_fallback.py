"""Per-sample gradients by torch.func: any module without a closed form, and whole-model passes."""

from collections.abc import Iterable

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap
from torch.utils._pytree import tree_flatten, tree_unflatten

from .layer_rules import LayerCall, PerSampleGrad, from_per_sample
from .losses import LossFn
from .microbatches import Batch, on_device
from .progress import Phase

# Samples per vmap call in whole-model passes: memory grows with chunk × parameters.
CHUNK = 32


def _trainable(module: nn.Module) -> dict[str, Tensor]:
    return {name: p.detach() for name, p in module.named_parameters() if p.requires_grad}


def vmap_rule(call: LayerCall) -> dict[str, PerSampleGrad]:
    """Per-sample gradients of a module's parameters: vmap of the gradient of ⟨output, δ_i⟩.

    Tensor arguments whose first dimension has the batch size are split into samples; all other
    arguments (masks, flags) are shared by every sample.
    """
    batch_size = call.grad_output.shape[0]
    flat_inputs, spec = tree_flatten((call.args, call.kwargs))
    batched = [
        isinstance(v, Tensor) and v.dim() > 0 and v.shape[0] == batch_size for v in flat_inputs
    ]

    def pairing(params: dict[str, Tensor], inputs: list, cotangents: tuple[Tensor, ...]) -> Tensor:
        one = [v.unsqueeze(0) if b else v for v, b in zip(inputs, batched, strict=True)]
        args, kwargs = tree_unflatten(one, spec)
        outputs = tree_flatten(functional_call(call.module, params, args, kwargs))[0]
        tensors = [o for o in outputs if isinstance(o, Tensor)]
        return sum(
            (o * c.unsqueeze(0)).sum()
            for o, c in zip(tensors, cotangents, strict=True)
            if o.is_floating_point()
        )

    in_dims = (None, [0 if b else None for b in batched], 0)
    per_sample = vmap(grad(pairing), in_dims=in_dims)(
        _trainable(call.module), flat_inputs, call.grad_outputs
    )
    return {name: from_per_sample(g) for name, g in per_sample.items()}


def centred_sq_norms(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: LossFn,
    centre: Tensor,
    phase: Phase | None = None,
) -> list[float]:
    """Σ_{i∈k} ‖G_i − c‖² of each micro-batch k, with G_i = ∇s_i materialised by vmap, in float64.

    The direct form avoids the cancellation of Σ‖G_i‖² − m‖c‖² when σ ≪ ‖ḡ‖; ``centre`` is a
    flat float64 vector ordered like the trainable parameters. Per micro-batch, so that the
    jackknife can leave out groups of them. Resumable by ``phase`` after any micro-batch.
    """
    params = _trainable(model)
    pieces = centre.split([p.numel() for p in params.values()])
    centres = {
        name: piece.view(p.shape) for (name, p), piece in zip(params.items(), pieces, strict=True)
    }

    def sample_loss(params: dict[str, Tensor], inputs: Tensor, targets: Tensor) -> Tensor:
        outputs = functional_call(model, params, (inputs.unsqueeze(0),))
        return loss_fn(outputs, targets.unsqueeze(0))[0]

    per_sample_grad = vmap(grad(sample_loss), in_dims=(None, 0, 0), chunk_size=CHUNK)
    done = list(phase.saved["totals"]) if phase is not None and phase.saved else []
    totals = []  # kept on the device until the end: no sync per micro-batch

    def snapshot() -> dict:
        return {"totals": done + (torch.stack(totals).tolist() if totals else [])}

    if phase is not None:
        phase.report(len(done))  # the start
    for inputs, targets in on_device(batches, centre.device, start=len(done)):
        total = torch.zeros((), dtype=torch.float64, device=centre.device)
        for name, g in per_sample_grad(params, inputs, targets).items():
            total += (g.double() - centres[name]).square().sum()
        totals.append(total)
        if phase is not None:
            phase.report(len(done) + len(totals), snapshot)
    return snapshot()["totals"]
