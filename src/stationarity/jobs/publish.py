"""The wandb_sync and wandb_report jobs (login node): upload offline runs, update the report."""

from pathlib import Path

from ..figures import FIGURES
from ..figures.palette import schedule_colors
from ..files import run_name
from ..plan import StudyPlan
from ..tracking import (
    check_server,
    default_entity,
    estimate_run_id,
    sync_offline_runs,
    sync_plan,
    train_run_id,
    upload_skipped,
)
from ..tracking.report import ReportRun, ReportSection, wandb_key


def figure_caption(name: str, sources: list[dict]) -> str:
    """The registry's caption of a figure, naming the schedules its sources draw; sources of
    ``StudyPlan.figure_sources`` (not the config's bare ones) add m, k, checkpoints and setting."""
    runs = [
        run_name(source["experiment"], schedule, "*")
        for source in sources
        for schedule in source["schedules"]
    ]
    return FIGURES[name].caption_for(runs, sources)


def report_sections(config: dict) -> list[ReportSection]:
    """Each figure of trained runs with the W&B runs of its runs' current identities.

    A figure's runs are its sources and the parents of its branches; each has a train and an
    estimate W&B run, both colored by schedule and labelled by the schedule's label.
    """
    plan = StudyPlan(config)
    colors = schedule_colors([run.schedule for run in plan.runs])
    sections = []
    for figure in config["figures"]:
        if FIGURES[figure].synthetic:  # closed-form experiments log no runs
            continue
        runs = []
        for run in plan.figure_runs(figure):
            identity, label = plan.identity(run), plan.schedule_labels(run.experiment)
            for job, run_id in (("train", train_run_id), ("estimate", estimate_run_id)):
                runs.append(
                    ReportRun(
                        run_id(run.name, identity),
                        f"{run.name} {job}",
                        label[run.schedule],
                        colors[run.schedule],
                    )
                )
        keys = tuple(dict.fromkeys(map(wandb_key, FIGURES[figure].statistics)))
        caption = figure_caption(figure, plan.figure_sources(figure))
        sections.append(ReportSection(figure, caption, keys, tuple(runs)))
    return sections


def sync(settings: dict, wandb_dir: Path) -> str:
    """Upload the study's offline W&B runs; a line saying what was done or why not."""
    skipped = upload_skipped(settings)
    if skipped:
        return f"wandb_sync skipped: {skipped}"
    uploaded = sync_offline_runs(wandb_dir)
    return f"wandb_sync: {uploaded.summary(done=True)} under {wandb_dir}"


def sync_preview(wandb_dir: Path) -> str:
    """The fragments a sync would upload, oldest first per run, and a summary line."""
    plan = sync_plan(wandb_dir)
    return "\n".join([*map(str, plan.fragments), f"{plan.summary(done=False)} under {wandb_dir}"])


def report(config: dict) -> str:
    """Update (or create once) the study's W&B report; a line with its URL or why it was skipped."""
    settings = config["wandb"]
    skipped = upload_skipped(settings)
    if skipped:
        return f"wandb_report skipped: {skipped}"
    check_server()
    from ..tracking.report import build_report, save_report  # imports wandb_workspaces: slow

    entity = settings.get("entity") or default_entity()
    built = build_report(config["study"], report_sections(config), settings["project"], entity)
    return f"wandb_report: {save_report(built)}"
