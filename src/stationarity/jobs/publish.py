"""The wandb_sync and wandb_report jobs (login node): upload offline runs, build the report."""

from pathlib import Path

from ..figures import FIGURES
from ..files import run_name
from ..tracking import check_server, default_entity, sync_offline_runs, upload_skipped


def figure_caption(name: str, sources: list[dict]) -> str:
    """The registry's caption of a figure, naming the schedules its sources draw."""
    runs = [
        run_name(source["experiment"], schedule, "*")
        for source in sources
        for schedule in source["schedules"]
    ]
    return FIGURES[name].caption_for(runs)


def sync(settings: dict, wandb_dir: Path) -> str:
    """Upload the study's offline W&B runs; a line saying what was done or why not."""
    skipped = upload_skipped(settings)
    if skipped:
        return f"wandb_sync skipped: {skipped}"
    runs = sync_offline_runs(wandb_dir)
    return f"wandb_sync: uploaded {len(runs)} offline run(s) under {wandb_dir}"


def report(settings: dict, study: str, figures: list[str], figure_sources: dict) -> str:
    """Build and save the study's W&B report; a line with its URL or why it was skipped."""
    skipped = upload_skipped(settings)
    if skipped:
        return f"wandb_report skipped: {skipped}"
    check_server()
    from ..tracking.report import build_report, save_report  # imports wandb_workspaces: slow

    entity = settings.get("entity") or default_entity()
    captions = {name: figure_caption(name, figure_sources.get(name, [])) for name in figures}
    built = build_report(
        study, figures, figure_sources, settings["project"], entity, captions=captions
    )
    return f"wandb_report: {save_report(built)}"
