"""Shim: build and upload the study's W&B report (rule wandb_report, on the login node)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: F821, SIM115
sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821

from stationarity.tracking import check_server, default_entity, upload_skipped  # noqa: E402

settings = snakemake.params.wandb  # noqa: F821
skipped = upload_skipped(settings)
if skipped:
    message = f"wandb_report skipped: {skipped}"
else:
    check_server()
    from stationarity.wandb_report import build_report, save_report

    report = build_report(
        snakemake.params.study,  # noqa: F821
        snakemake.params.figures,  # noqa: F821
        snakemake.params.figure_sources,  # noqa: F821
        project=settings["project"],
        entity=settings.get("entity") or default_entity(),
    )
    message = f"wandb_report: {save_report(report)}"
print(message)  # on the terminal, and in the log
print(message, file=sys.stderr)
