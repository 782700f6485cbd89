"""An estimate stopped in the middle of any phase and resumed from its snapshots gives the result
of an uninterrupted one, and reports its progress on the way."""

from dataclasses import asdict

import pytest
import torch
from estimator_models import image_data, mlp, seeded, split

from stationarity.estimators import estimate


class Stop(Exception):
    """Stands for the job dying after its last save."""


class Keeper:
    """Keeps the latest snapshot of each phase, as a job saves them; stops at the n-th snapshot
    of ``phase`` that is short of the phase's end."""

    def __init__(self, phase: str | None = None, stop_after: int = 0):
        self.phase, self.stop_after = phase, stop_after
        self.saved: dict[str, dict] = {}
        self.reports: list[tuple[str, int, int]] = []

    def __call__(self, name, done, total, snapshot):
        self.reports.append((name, done, total))
        if snapshot is None:
            return
        self.saved[name] = snapshot()
        if name == self.phase and done < total:
            self.stop_after -= 1
            if self.stop_after == 0:
                raise Stop


def outcome(stats) -> dict:
    return {k: v for k, v in asdict(stats).items() if k != "seconds"}


def centred_case():
    """Nearly identical samples: σ ≪ ‖ḡ‖, so the estimate takes the centred second pass."""
    generator = seeded(4)
    base = torch.randn(1, 6, generator=generator)
    inputs = base + 1e-4 * torch.randn(48, 6, generator=generator)
    return split(inputs, torch.zeros(48, dtype=torch.long), 4)


def spread_case():
    inputs, targets = image_data(48, (6,), 3, seed=2)
    return split(inputs, targets, 4)


CASES = {  # phase to stop in, options, batches
    "gradients, per-sample": ("gradients", {}, spread_case),
    "gradients, mini-batch": ("gradients", {"noise": "minibatch"}, spread_case),
    "gradients, train mode": ("gradients", {"noise": "minibatch", "mode": "train"}, spread_case),
    "centred pass": ("centred", {}, centred_case),
    "Lanczos": ("sharpness", {}, spread_case),
    "power iteration": ("sharpness", {"sharpness": "power", "max_hvps": 300}, spread_case),
}


@pytest.mark.parametrize("case", CASES)
def test_a_resumed_estimate_equals_an_uninterrupted_one(case):
    name, options, batches = CASES[case]
    model, data = mlp().eval(), batches()
    options = {"sharpness_rtol": 1e-6, "se_groups": 4, **options}
    whole = estimate(model, data, generator=seeded(0), **options)

    stopped = Keeper(name, stop_after=2)
    with pytest.raises(Stop):
        estimate(model, data, generator=seeded(0), progress=stopped, **options)
    assert name in stopped.saved  # stopped in the middle of the phase, after a snapshot
    resumed = estimate(model, data, generator=seeded(0), resume=stopped.saved, **options)

    assert outcome(resumed) == outcome(whole)
    if name == "centred":
        assert whole.noise_method == "per_sample_centred"


def test_a_resume_reads_only_the_micro_batches_left():
    model, data = mlp().eval(), spread_case()
    stopped = Keeper("gradients", stop_after=2)
    with pytest.raises(Stop):
        estimate(model, data, sharpness=None, se_groups=4, progress=stopped)
    done = stopped.saved["gradients"]["added"]
    assert done == 6  # two of four groups of the 12 micro-batches

    heard = Keeper()
    estimate(model, data, sharpness=None, se_groups=4, progress=heard, resume=stopped.saved)
    # The start, with the micro-batches already done, then one report for each of the rest.
    assert [done for phase, done, _ in heard.reports] == list(range(done, 13))


def test_progress_counts_each_phase_to_its_end():
    model, data = mlp().eval(), spread_case()
    heard = Keeper()
    stats = estimate(model, data, sharpness_rtol=1e-4, se_groups=4, progress=heard)
    gradients = [r for r in heard.reports if r[0] == "gradients"]
    assert gradients[0] == ("gradients", 0, 12) and gradients[-1] == ("gradients", 12, 12)
    assert len(gradients) == 13
    sharpness = [(done, total) for phase, done, total in heard.reports if phase == "sharpness"]
    # The start, every step of the budget of 100, then the end where the solver converged.
    assert sharpness == [(step, 100) for step in range(stats.hvps)] + [(stats.hvps,) * 2]


def test_a_snapshot_of_other_micro_batches_is_refused():
    model = mlp().eval()
    stopped = Keeper("gradients", stop_after=1)
    with pytest.raises(Stop):
        estimate(model, spread_case(), sharpness=None, se_groups=4, progress=stopped)
    inputs, targets = image_data(48, (6,), 3, seed=2)
    with pytest.raises(ValueError, match="other micro-batches"):
        estimate(
            model, split(inputs, targets, 6), sharpness=None, se_groups=4, resume=stopped.saved
        )
