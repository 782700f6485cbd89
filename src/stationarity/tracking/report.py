"""A W&B report of a study: one panel grid per figure of trained runs, runs grouped by experiment.

The only module that imports ``wandb_workspaces``. Building the report needs no server when the
entity is given; saving it does (see ``tracking.check_server``).
"""

import wandb_workspaces.reports.v2 as wr

STATISTICS = ("loss", "grad_norm", "noise", "sharpness")  # logged as estimate/<name> by collect


def figure_panels(entity: str, project: str, figure: str, sources: list[dict]) -> wr.PanelGrid:
    """The panels of one figure: the four statistics and the training loss against epochs."""
    experiments = sorted({source["experiment"] for source in sources})
    runset = wr.Runset(
        entity=entity,
        project=project,
        name=figure,
        filters=f"Config('experiment') in {experiments}",
        groupby=["group"],  # a run's group is its experiment
    )
    panels = [
        wr.LinePlot(title=name, x="epoch", y=[f"estimate/{name}"], log_y=name != "loss")
        for name in STATISTICS
    ]
    panels.append(wr.LinePlot(title="training loss", x="epoch", y=["train/loss"]))
    return wr.PanelGrid(runsets=[runset], panels=panels)


def build_report(
    study: str,
    figures: list[str],
    figure_sources: dict,
    project: str,
    entity: str,
    captions: dict[str, str] | None = None,
) -> wr.Report:
    """The report of ``study``: heading, caption and panel grid of each figure drawn from runs."""
    blocks = [
        wr.H1(f"Study {study}"),
        wr.P(
            "Loss, gradient norm, gradient noise and sharpness at every checkpoint "
            "(Zhang, Li, Sra, Jadbabaie 2021). The files under results/ are the truth; "
            "these panels mirror them."
        ),
    ]
    for figure in figures:
        if figure in figure_sources:  # the synthetic and theory figures have no W&B runs
            blocks.append(wr.H2(figure))
            if captions and figure in captions:
                blocks.append(wr.P(captions[figure]))
            blocks.append(figure_panels(entity, project, figure, figure_sources[figure]))
    return wr.Report(project=project, entity=entity, title=f"stationarity: {study}", blocks=blocks)


def save_report(report: wr.Report) -> str:
    """Upload the report (needs the server and an API key); its URL."""
    report.save()
    return report.url
