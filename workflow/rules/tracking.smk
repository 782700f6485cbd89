# The W&B mirror, from the login node (compute nodes log offline): upload the offline runs, then
# build the study's report. Both are named targets that always run; W&B disabled or offline-only
# makes them say so and stop, no key or no network makes them fail in seconds.


rule wandb_sync:
    log:
        f"{PATHS.logs}/wandb_sync.log",
    localrule: True
    conda:
        "../../envs/stationarity.yaml"
    params:
        wandb=config["wandb"],
        wandb_dir=PATHS.wandb,
    script:
        "../scripts/wandb_sync.py"


rule wandb_report:
    log:
        f"{PATHS.logs}/wandb_report.log",
    localrule: True
    conda:
        "../../envs/stationarity.yaml"
    script:
        "../scripts/wandb_report.py"
