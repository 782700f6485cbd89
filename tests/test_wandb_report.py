"""The study's W&B report, built for the demo without a server: a section per figure of trained
runs, holding exactly that figure's runs at their current identities, colored by schedule."""

import pytest
import yaml

from stationarity.figures import FIGURES
from stationarity.jobs.publish import report_sections
from stationarity.plan import StudyPlan
from stationarity.tracking import estimate_run_id, train_run_id
from stationarity.tracking.report import build_report, report_title


@pytest.fixture
def demo(repo):
    return yaml.safe_load((repo / "config" / "demo.yaml").read_text())


def test_one_section_per_trained_figure_with_exactly_its_runs(demo):
    sections = {section.figure: section for section in report_sections(demo)}
    trained = [name for name in demo["figures"] if not FIGURES[name].synthetic]
    assert list(sections) == trained and "fig5" not in sections
    plan = StudyPlan(demo)
    for name, section in sections.items():
        ids = {
            run_id(run.name, plan.identity(run))
            for run in plan.figure_runs(name)
            for run_id in (train_run_id, estimate_run_id)
        }
        assert {run.run_id for run in section.runs} == ids, name
        assert section.run_filter == f"Metric('ID') in {sorted(ids)}"
    fig2 = sections["fig2"]
    labels = sorted({run.label for run in fig2.runs})
    assert labels == ["constant η = 0.001", "constant η = 0.01", "constant η = 0.1"]
    assert fig2.keys == ("train/loss", "estimate/grad_norm", "estimate/noise", "estimate/sharpness")
    assert sections["fig8"].keys[0] == "estimate/loss"
    # A branch figure also holds the parent run its branches start from.
    assert any("const_0.1/seed0" in run.name for run in sections["theorem8"].runs)


def test_a_schedule_has_one_color_in_every_section_and_schedules_differ(demo):
    colors = {}
    for section in report_sections(demo):
        for run in section.runs:
            schedule = run.name.split("/")[1]
            assert colors.setdefault(schedule, run.color) == run.color
    fig2 = {run.color for run in report_sections(demo)[1].runs}
    assert len(fig2) == 3


def test_a_changed_setting_points_the_section_at_the_new_run(demo):
    before = {run.run_id for run in report_sections(demo)[1].runs}
    demo["experiments"]["mnist_underfit"]["batch_size"] = 64
    after = {run.run_id for run in report_sections(demo)[1].runs}
    assert before.isdisjoint(after)  # superseded runs are not in the report


def test_the_report_blocks_carry_each_section(demo):
    sections = report_sections(demo)
    report = build_report("demo", sections, "stationarity-demo", "me")
    assert report.title == report_title("demo") == "stationarity: demo"
    grids = [block for block in report.blocks if type(block).__name__ == "PanelGrid"]
    headings = [block.text for block in report.blocks if type(block).__name__ == "H2"]
    assert headings == [section.figure for section in sections] and len(grids) == len(sections)
    for grid, section in zip(grids, sections, strict=True):
        (runset,) = grid.runsets
        assert runset.filters == section.run_filter
        assert {run_id: s.color for run_id, s in runset.run_settings.items()} == {
            run.run_id: run.color for run in section.runs
        }
        assert [panel.y for panel in grid.panels] == [[key] for key in section.keys]
    captions = [str(block) for block in report.blocks if type(block).__name__ == "P"]
    assert any("Fig. 7" in text and "digits_overfit/multistep/seed*" in text for text in captions)
