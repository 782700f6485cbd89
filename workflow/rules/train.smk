# Training: one job per run (experiment, schedule, seed). Checkpoints live in a params folder, never a
# declared output, so Snakemake cannot delete them when a job fails; a retry resumes from them.


rule train:
    input:
        data=data_receipt,
    output:
        manifest=MANIFEST,
        train_log=f"{RUN_DIR}/train_log.parquet",
    log:
        f"{RESULTS}/logs/train/{{experiment}}/{{schedule}}/seed{{seed}}.log",
    conda:
        "../../envs/stationarity.yaml"
    threads: 1
    resources:
        gpu=train_gpus,
        mem_mb=16000,
        runtime=train_runtime,
    params:
        run=train_settings,
        checkpoint_dir=f"{RUN_DIR}/checkpoints",
        wandb_dir=f"{RESULTS}/wandb",
    script:
        "../scripts/train.py"


rule train_all:
    input:
        all_manifests(),
    localrule: True
