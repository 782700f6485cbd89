# Training: one job per run (experiment, schedule, seed). Checkpoints live in a params folder, never a
# declared output, so Snakemake cannot delete them when a job fails; a retry resumes from them.


rule train:
    input:
        unpack(train_inputs),
    output:
        manifest=MANIFEST,
        train_log=f"{RUN_DIR}/train_log.parquet",
    log:
        f"{RESULTS}/logs/train/{{experiment}}/{{schedule}}/seed{{seed}}.log",
    conda:
        "../../envs/stationarity.yaml"
    threads: train_threads
    resources:
        gpu=train_gpus,
        cpus_per_task=lambda wildcards, threads: threads,
        mem_mb=train_memory_mb,
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
