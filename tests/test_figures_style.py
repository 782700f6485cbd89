"""How the figures look and what they say: labels, uncertainty bands, one color per schedule,
Fig. 4 against epochs, eq. (10)'s effective step, and captions filled from the config."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import yaml
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex
from test_figures_training import TRAINING_FIGURES, estimates, iterations, sample_size

from stationarity.figures import FIGURES
from stationarity.figures.measurement import eq10_sides
from stationarity.jobs.publish import figure_caption
from stationarity.plan import StudyPlan
from stationarity.tables import tidy_statistics

LABELS = {"const_0.1": "η = 0.1", "const_0.01": "η = 0.01"}


@pytest.fixture(autouse=True)
def close_figures():
    """Close each test's figures (pyplot keeps them all open otherwise)."""
    yield
    plt.close("all")


def sources(**extra) -> list[dict]:
    """Sources as StudyPlan.figure_sources gives them, for the two tiny runs."""
    return [
        {
            "experiment": "exp",
            "schedules": ["const_0.1", "const_0.01"],
            "batch_size": 4,
            "branches": {"const_0.01": ["const_0.1", 10]},
            "labels": LABELS,
            "last_fraction": 0.5,
            **extra,
        }
    ]


def stats(se: bool = True):
    """The tiny estimates with a standard error on the estimated statistics and a solver bound on
    the sharpness, or (``se=False``) without either column, as in tables written before them."""
    tidy = tidy_statistics(estimates()).drop(columns=["se", "bound"], errors="ignore")
    if not se:
        return tidy
    estimated = tidy.statistic.isin(["loss", "grad_norm", "noise"])
    sharp = tidy.statistic.isin(["sharpness", "top_eigenvalue"])
    return tidy.assign(
        se=np.where(estimated, 0.05 * tidy.value.abs(), np.nan),
        bound=np.where(sharp, 0.1 * tidy.value.abs(), np.nan),
    )


def draw(name: str, with_se: bool = True, **extra):
    """Figure ``name`` of the tiny runs: (figure, plotted numbers)."""
    figure = TRAINING_FIGURES[name]
    studies = sample_size()
    if with_se:
        studies = studies.assign(se=0.05 * studies.value.abs())
    return figure.function()(
        **figure.options,
        stats=stats(with_se),
        iterations=iterations(),
        sample_size=studies,
        sources=sources(**extra),
    )


def bands(fig) -> int:
    """How many shaded bands (fill_between) the figure's axes hold."""
    return sum(isinstance(c, PolyCollection) for ax in fig.axes for c in ax.collections)


@pytest.mark.parametrize("name", sorted(TRAINING_FIGURES))
@pytest.mark.parametrize("with_se", [True, False], ids=["se", "older tables"])
def test_every_figure_labels_its_schedules_from_the_config(name, with_se):
    _, plotted = draw(name, with_se)
    assert "label" in plotted.columns
    labels = dict(zip(plotted.schedule, plotted.label, strict=True))
    assert labels and all(labels[s] == LABELS[s] for s in labels)


@pytest.mark.parametrize("name", ["fig2", "fig8"])
def test_bands_are_drawn_where_the_tables_carry_standard_errors(name):
    with_se, _ = draw(name, with_se=True)
    without, _ = draw(name, with_se=False)
    assert bands(with_se) > 0 and bands(without) == 0


def test_sharpness_gets_its_solver_bound_as_a_band():
    fig, plotted = draw("fig1")
    sharpness = [ax for ax in fig.axes if "sharpness" in ax.get_ylabel()]
    assert sharpness and all(any(isinstance(c, PolyCollection) for c in ax.collections)
                             for ax in sharpness)  # fmt: skip
    assert plotted[plotted.statistic == "sharpness"].bound.gt(0).all()


def line_colors(fig) -> dict[str, str]:
    """Each labelled line's color, by label."""
    return {
        line.get_label(): to_hex(line.get_color())
        for ax in fig.axes
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    }


def test_a_schedule_has_one_color_across_figures():
    order = ["const_0.1", "const_0.01"]
    grid, _ = draw("fig2", schedule_order=order)
    optimizer = {"name": "sgd", "momentum": 0.9}
    one = [{**sources(schedule_order=order, optimizer=optimizer)[0], "schedules": ["const_0.01"]}]
    figure = TRAINING_FIGURES["eq10"]
    scatter, _ = figure.function()(stats=stats(), iterations=iterations(), sources=one)
    assert line_colors(grid)["η = 0.01"] == line_colors(scatter)["η = 0.01"]
    assert line_colors(grid)["η = 0.01"] != line_colors(grid)["η = 0.1"]


def test_fig4_is_drawn_against_epochs_with_a_smoothed_training_loss():
    fig, plotted = draw("fig4")
    assert fig.axes[-1].get_xlabel() == "epoch"
    loss = plotted[(plotted.statistic == "train_loss") & (plotted.schedule == "const_0.1")]
    assert loss.x.max() == pytest.approx(2.0)  # 20 steps, 10 an epoch
    estimated = plotted[plotted.statistic == "grad_norm"]
    assert sorted(set(estimated.x)) == [0.0, 1.0, 2.0]  # checkpoints at steps 0, 10, 20


def test_eq10_uses_the_effective_step_of_sgd_with_momentum():
    plain = eq10_sides(stats(), iterations(), {"exp": 4})
    heavy = eq10_sides(stats(), iterations(), {"exp": 4}, momenta={"exp": 0.9})
    assert heavy.rhs.to_numpy() == pytest.approx(10 * plain.rhs.to_numpy())
    assert heavy.lhs_error.notna().all() and heavy.rhs_error.notna().all()
    _, plotted = draw("eq10", optimizer={"name": "sgd", "momentum": 0.9})
    steps = plotted[(plotted.statistic == "effective_step") & (plotted.schedule == "const_0.1")]
    assert steps.value.to_numpy() == pytest.approx(1.0)  # 0.1 / (1 − 0.9)
    _, adam = draw("eq10", optimizer={"name": "adam", "betas": [0.9, 0.999]})
    steps = adam[(adam.statistic == "effective_step") & (adam.schedule == "const_0.1")]
    assert steps.value.to_numpy() == pytest.approx(0.1)  # Adam: the raw η


@pytest.fixture
def demo(repo):
    return yaml.safe_load((repo / "config" / "demo.yaml").read_text())


def test_sources_carry_the_optimizer_and_the_study_wide_schedule_order(demo):
    plan = StudyPlan(demo)
    (fig2,) = plan.figure_sources("fig2")
    (fig7,) = plan.figure_sources("fig7")
    assert fig2["optimizer"]["momentum"] == 0.9
    assert fig2["schedule_order"] == fig7["schedule_order"]
    assert fig2["schedule_order"].index("multistep") > fig2["schedule_order"].index("const_0.1")
    assert fig2["horizons"]["const_0.1"] == {"epochs": 30}
    assert fig2["checkpoints"]["const_0.1"] == len(
        plan.estimated_steps(plan.figure_runs("fig2")[0])
    )


@pytest.mark.parametrize("name", [n for n, figure in FIGURES.items() if not figure.synthetic])
def test_captions_state_runs_samples_checkpoints_and_the_paper(demo, name):
    plan = StudyPlan(demo)
    caption = figure_caption(name, plan.figure_sources(name))
    bare = figure_caption(name, demo["figure_sources"][name])
    assert "$" not in caption and "$" not in bare and "The paper: " in caption
    assert "Runs drawn: " in caption and "Here: " in caption
    if set(FIGURES[name].statistics) & {"grad_norm", "noise"} and name != "eq10":
        assert "m = " in caption and "within 100 Hessian-vector products" in caption
    if name in ("fig1", "fig2"):
        checkpoints = len(plan.estimated_steps(plan.figure_runs(name)[0]))
        assert f"{checkpoints} checkpoints per run" in caption
        assert "m = 2,048 training examples" in caption
    if name == "fig4":
        assert "last 27 steps" in caption and "segments of 64 tokens" in caption
    if name == "eq10":
        assert "η/(1−β) = 10η (SGD, β = 0.9)" in caption


def test_captions_say_on_which_samples_and_checkpoints_the_sharpness_is_measured(repo):
    paper = StudyPlan(yaml.safe_load((repo / "config" / "config.yaml").read_text()))
    fig1 = figure_caption("fig1", paper.figure_sources("fig1"))
    assert "sharpness on the first k = 2,560 of them, at every other estimated checkpoint" in fig1
    fig8 = figure_caption("fig8", paper.figure_sources("fig8"))
    assert "sharpness at m = 1,250, 2,500, 5,000, 10,000 only" in fig8
