"""Learning-rate schedules: pure functions of the optimisation step.

A schedule is a config dict with a ``kind`` and that kind's keys (an optional ``label`` is allowed
everywhere). Epoch-based kinds (``step``, ``multistep``) change the rate only at epoch boundaries,
as the reference ImageNet code does (``lr = lr0 * gamma ** (epoch // k)``, set at the start of each
epoch); ``cosine`` decays every step, as Transformer-XL does.
"""

import math

# kind -> (required keys, optional keys with defaults)
SCHEDULE_KEYS: dict[str, tuple[tuple[str, ...], dict[str, object]]] = {
    "constant": (("lr",), {}),
    "step": (("lr", "gamma", "every_epochs"), {}),
    "multistep": (("lr", "gamma", "milestones_epochs"), {}),
    "cosine": (("lr", "total_steps"), {"min_lr": 0.0}),
}


def check_schedule(spec: dict) -> None:
    """Raise ValueError naming the problem if ``spec`` is not a valid schedule."""
    kind = spec.get("kind")
    if kind not in SCHEDULE_KEYS:
        raise ValueError(
            f"unknown schedule kind {kind!r}; allowed kinds: {', '.join(SCHEDULE_KEYS)}"
        )
    required, optional = SCHEDULE_KEYS[kind]
    allowed = {"kind", "label", *required, *optional}
    missing = [k for k in required if k not in spec]
    if missing:
        raise ValueError(f"schedule kind {kind!r} needs key(s) {', '.join(missing)}")
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(
            f"schedule kind {kind!r} has unknown key(s) {', '.join(unknown)}; "
            f"allowed keys: {', '.join(sorted(allowed))}"
        )
    if not spec["lr"] > 0:
        raise ValueError(f"schedule key lr must be > 0, got {spec['lr']!r}")
    if kind in ("step", "multistep") and not 0 < spec["gamma"] <= 1:
        raise ValueError(f"schedule key gamma must be in (0, 1], got {spec['gamma']!r}")
    if kind == "step" and not (isinstance(spec["every_epochs"], int) and spec["every_epochs"] > 0):
        raise ValueError(
            f"schedule key every_epochs must be a positive integer, got {spec['every_epochs']!r}"
        )
    if kind == "multistep":
        milestones = spec["milestones_epochs"]
        if not (
            isinstance(milestones, list)
            and all(isinstance(m, int) and m > 0 for m in milestones)
            and milestones == sorted(set(milestones))
        ):
            raise ValueError(
                "schedule key milestones_epochs must be an increasing list of positive integers, "
                f"got {milestones!r}"
            )
    if kind == "cosine":
        if not (isinstance(spec["total_steps"], int) and spec["total_steps"] > 0):
            raise ValueError(
                f"schedule key total_steps must be a positive integer, got {spec['total_steps']!r}"
            )
        if not 0 <= spec.get("min_lr", 0.0) <= spec["lr"]:
            raise ValueError(f"schedule key min_lr must be in [0, lr], got {spec['min_lr']!r}")


def learning_rate(spec: dict, step: int, steps_per_epoch: int) -> float:
    """The learning rate used for optimisation step ``step`` (0-based)."""
    kind = spec["kind"]
    # The epoch this step belongs to: lr is fixed at the start of each epoch.
    epoch = step // steps_per_epoch
    if kind == "constant":
        return float(spec["lr"])
    if kind == "step":
        return spec["lr"] * spec["gamma"] ** (epoch // spec["every_epochs"])
    if kind == "multistep":
        # Milestone m: epochs m, m+1, ... (0-based) run at the decayed rate (torch's MultiStepLR).
        passed = sum(1 for m in spec["milestones_epochs"] if epoch >= m)
        return spec["lr"] * spec["gamma"] ** passed
    if kind == "cosine":
        min_lr = spec.get("min_lr", 0.0)
        progress = min(step, spec["total_steps"]) / spec["total_steps"]
        return min_lr + 0.5 * (spec["lr"] - min_lr) * (1 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule kind {kind!r}; allowed kinds: {', '.join(SCHEDULE_KEYS)}")
