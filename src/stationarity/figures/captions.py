"""What a caption says about its figure's runs, filled from the figure's sources.

Matplotlib-free: the workflow builds captions while planning. ``caption_values`` gives the values of
the placeholders a caption may use (``$runs``, ``$measured``, ``$here``, ``$window``, ``$step``).
With the sources of ``StudyPlan.figure_sources`` they state m, k, the checkpoints drawn and the
setting; with bare sources or none (a caller that passes run names only) each is a neutral phrase
or empty, so no ``$name`` is ever left in a caption.
"""

# Fig. 4's training loss is a running mean over this many steps: the official Transformer-XL code
# the paper trained with logs the mean training loss of every 200 steps (its --log-interval); the
# paper does not state the window of its curves.
PAPER_SMOOTHING = 200
ESTIMATED = ("loss", "grad_norm", "noise", "sharpness")


def smoothing_window(total_steps: int) -> int:
    """Steps in Fig. 4's running mean: the paper code's 200, at most a 20th of a shorter run."""
    return max(1, min(PAPER_SMOOTHING, int(total_steps) // 20))


def horizon(length: dict) -> str:
    """A run's length, ``{"epochs": 90}`` or ``{"steps": 200000}``, as words."""
    (unit, count), *_ = length.items()
    return f"{count:,} {unit}"


def spread(values: list) -> str:
    """One value, or the range of several (``"24"``, ``"8–16"``)."""
    values = sorted(set(values))
    return str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"


def setting(source: dict) -> str:
    """One source's experiment in words: its label and the drawn runs' length (``30 epochs``, or
    ``30 epochs (const_0.01_long: 60 epochs)`` where runs differ)."""
    name = source.get("experiment_label") or source["experiment"]
    lengths = source.get("horizons", {})
    if not lengths:
        return name
    drawn = {schedule: horizon(lengths[schedule]) for schedule in source["schedules"]}
    common = max(set(drawn.values()), key=list(drawn.values()).count)
    others = ", ".join(f"{s}: {h}" for s, h in drawn.items() if h != common)
    return f"{name}, {common}" + (f" ({others})" if others else "")


def unit(source: dict) -> str:
    """What one of the m samples is: a training example, or a segment of tgt_len tokens."""
    tgt_len = source.get("tgt_len")
    return f"segments of {tgt_len} tokens" if tgt_len else "training examples"


def sharpness_method(statistics: dict, study: dict | None = None) -> str:
    """How the sharpness was computed: on which k samples (and checkpoints or subset sizes), by
    which solver, to which tolerance, within how many Hessian-vector products."""
    method = statistics.get("sharpness", "lanczos")
    if method == "none":
        return "sharpness not computed"
    k = statistics.get("sharpness_samples")
    if study is not None:
        sizes = study.get("sharpness_sizes")
        on = f" at m = {', '.join(f'{n:,}' for n in sizes)} only" if sizes else ""
    else:
        on = f" on the first k = {k:,} of them" if k and k < statistics["samples"] else ""
        every = statistics.get("every", 1)
        thinned = statistics.get("sharpness_every", every) // every
        if thinned > 1:
            nth = {2: "other", 3: "third"}.get(thinned, f"{thinned}th")
            on += f", at every {nth} estimated checkpoint"
    rtol = statistics.get("sharpness_rtol")
    tolerance = f" to relative residual {rtol:g}" if rtol else ""
    hvps = statistics.get("max_hvps")
    budget = f" within {hvps} Hessian-vector products" if hvps else ""
    return f"sharpness{on}{',' if on else ''} by {method}{tolerance}{budget}"


BANDS = (
    " Shaded: ±2 standard errors of each estimate over its samples (sharpness: the eigenvalue "
    "solver's error bound), where the tables carry them."
)


def measured(
    statistics: tuple[str, ...], sources: list[dict], sample_size: bool, bands: bool = True
) -> str:
    """The sentence on how the estimates were made (empty for figures of training loss only)."""
    if not set(statistics) & set(ESTIMATED) or not sources:
        return ""
    shaded = BANDS if bands else ""
    described = [source for source in sources if "statistics" in source]
    if not described:
        return shaded
    parts = []
    for source in described:
        stats, what = source["statistics"], unit(source)
        if sample_size:
            study = source.get("sample_size") or {}
            sizes = ", ".join(f"{size:,}" for size in study.get("sizes", []))
            at = " and ".join(f"{fraction:.0%}" for fraction in study.get("at", []))
            parts.append(f"nested subsets of m = {sizes} {what} at {at} of training")
        else:
            counts = [source.get("checkpoints", {}).get(s) for s in source["schedules"]]
            drawn = spread([count for count in counts if count]) if any(counts) else "all"
            parts.append(
                f"{drawn} checkpoints per run, each measured on the same m = "
                f"{stats['samples']:,} {what}"
            )
        study = (source.get("sample_size") or {}) if sample_size else None
        parts[-1] += f"; {sharpness_method(stats, study)}"
    return " Estimates: " + "; ".join(parts) + "." + shaded


def effective_step(sources: list[dict]) -> str:
    """Eq. (10)'s step per experiment: η/(1−β) for SGD with momentum β, η for Adam."""
    steps = []
    for source in sources:
        optimizer = source.get("optimizer")
        if optimizer is None:
            continue
        momentum = optimizer.get("momentum", 0.0)
        if optimizer["name"] == "sgd" and momentum:
            steps.append(f"η/(1−β) = {1 / (1 - momentum):g}η (SGD, β = {momentum:g})")
        elif optimizer["name"] == "sgd":
            steps.append("η (SGD without momentum)")
        else:
            steps.append(f"the raw η ({optimizer['name']})")
    return "; ".join(dict.fromkeys(steps)) or "the effective step above"


def window(sources: list[dict]) -> str:
    """Fig. 4's smoothing window in steps, from the drawn runs' lengths."""
    lengths = [
        source["horizons"][schedule]
        for source in sources
        if "horizons" in source
        for schedule in source["schedules"]
    ]
    steps = [length["steps"] for length in lengths if "steps" in length]
    if not steps:
        return f"at most {PAPER_SMOOTHING}"
    return spread([smoothing_window(total) for total in steps])


def caption_values(
    statistics: tuple[str, ...],
    runs: list[str],
    sources,
    sample_size: bool = False,
    bands: bool = True,
) -> dict:
    """The values of a caption's placeholders for a figure drawing ``statistics`` of ``sources``
    (``sample_size``: a sample-size study; ``bands``: the figure shades its estimates' errors)."""
    sources = sources or []
    places = "; ".join(dict.fromkeys(setting(source) for source in sources))
    return {
        "runs": ", ".join(runs) or "none",
        "measured": measured(statistics, sources, sample_size, bands),
        "here": f" Here: {places}." if places else "",
        "window": window(sources),
        "step": effective_step(sources),
    }
