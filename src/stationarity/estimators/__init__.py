"""Loss, gradient norm, gradient noise and sharpness at a checkpoint (the paper's eq. 2).

``estimate`` measures all four over a fixed set of samples; ``sample_size_study`` repeats it on
nested subsets. Every statistic carries its standard error (``jackknife``, from the same passes)
or, for sharpness, the solver's bound. Exact per-sample noise comes from per-layer closed forms
(``layer_rules``, where new layer types are registered) evaluated inside one ordinary backward
pass. The rules of the Transformer-XL's own modules (``lm_rules``) register here, on import, from
the estimator side."""

from . import lm_rules  # registers the Transformer-XL's layer rules
from .hessian import EigenResult, hvp, top_eigenvalue_lanczos, top_eigenvalue_power
from .jackknife import SE_GROUPS
from .layer_rules import LayerCall, PerSampleGrad, register_rule
from .losses import summed_cross_entropy, summed_target_nll
from .microbatches import group_micro_batch
from .sample_size import nested_subsets, sample_size_study
from .statistics import Statistics, estimate

__all__ = [
    "EigenResult",
    "LayerCall",
    "PerSampleGrad",
    "SE_GROUPS",
    "Statistics",
    "estimate",
    "group_micro_batch",
    "hvp",
    "lm_rules",
    "nested_subsets",
    "register_rule",
    "sample_size_study",
    "summed_cross_entropy",
    "summed_target_nll",
    "top_eigenvalue_lanczos",
    "top_eigenvalue_power",
]
