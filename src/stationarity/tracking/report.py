"""The study's W&B report: one section per figure of trained runs, holding exactly its runs.

The sections are plain data (``ReportSection``), built from the study's plan by ``jobs.publish``;
``build_report`` turns them into ``wandb_workspaces`` blocks (the only module that imports it)
and ``save_report`` updates the study's report in place, found by its title, or creates it once.
"""

from dataclasses import dataclass

# The W&B key each figure statistic is logged under: training by the train job, the rest by
# collect's mirror of the run's estimates.
WANDB_KEYS = {"train_loss": "train/loss"}


def wandb_key(statistic: str) -> str:
    """The history key of a figure's statistic in the study's W&B runs."""
    return WANDB_KEYS.get(statistic, f"estimate/{statistic}")


@dataclass(frozen=True)
class ReportRun:
    """One W&B run of a section: its id, the run it mirrors, its legend label and color."""

    run_id: str
    name: str
    label: str
    color: str


@dataclass(frozen=True)
class ReportSection:
    """One figure: its caption, the W&B keys of the statistics it plots, and its runs."""

    figure: str
    caption: str
    keys: tuple[str, ...]
    runs: tuple[ReportRun, ...]

    def describe(self) -> str:
        """The section as lines a person reads: figure, plotted keys, and each run."""
        runs = [f"  {run.name}  [{run.label}, {run.color}]  id {run.run_id}" for run in self.runs]
        return "\n".join([f"{self.figure}: {', '.join(self.keys)}", *runs])

    @property
    def run_filter(self) -> str:
        """A W&B run filter selecting exactly this section's runs by id."""
        return f"Metric('ID') in {sorted(run.run_id for run in self.runs)}"


def report_title(study: str) -> str:
    """The title that identifies a study's report in its W&B project."""
    return f"stationarity: {study}"


def build_report(study: str, sections: list[ReportSection], project: str, entity: str):
    """The report of ``study``: heading, then each section's caption and panel grid."""
    import wandb_workspaces.reports.v2 as wr  # slow to import; only the report needs it

    blocks = [
        wr.H1(f"Study {study}"),
        wr.P(
            "Loss, gradient norm, gradient noise and sharpness at every checkpoint "
            "(Zhang, Li, Sra, Jadbabaie 2021). The files under results/ are the truth; "
            "these panels mirror them. Runs are colored by schedule."
        ),
    ]
    for section in sections:
        runset = wr.Runset(
            entity=entity,
            project=project,
            name=section.figure,
            filters=section.run_filter,
            run_settings={run.run_id: wr.RunSettings(color=run.color) for run in section.runs},
        )
        panels = [
            wr.LinePlot(title=key, x="epoch", y=[key], log_y=not key.endswith("loss"))
            for key in section.keys
        ]
        blocks += [
            wr.H2(section.figure),
            wr.P(section.caption),
            wr.PanelGrid(runsets=[runset], panels=panels),
        ]
    return wr.Report(project=project, entity=entity, title=report_title(study), blocks=blocks)


def existing_report_id(entity: str, project: str, title: str) -> str | None:
    """The id of the project's report titled ``title``, if there is one (needs the server)."""
    import wandb

    for found in wandb.Api().reports(path=f"{entity}/{project}"):
        if found.display_name == title:
            return found.id
    return None


def save_report(report) -> str:
    """Update the study's report in place, or create it if the project has none; its URL."""
    report.id = existing_report_id(report.entity, report.project, report.title) or ""
    report.save()
    return report.url
