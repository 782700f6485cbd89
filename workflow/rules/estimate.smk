# Estimation: the four statistics at every (estimated) checkpoint of every run, the sample-size
# study at selected checkpoints, and one tidy table per experiment.


rule estimate:
    input:
        manifest=MANIFEST,
    output:
        stats=STATS,
    log:
        f"{RESULTS}/logs/estimate/{{experiment}}/{{schedule}}/seed{{seed}}/step{{step}}.log",
    conda:
        "../../envs/stationarity.yaml"
    threads: 1
    resources:
        gpu=estimate_gpus,
        runtime=240,
    params:
        run=estimate_settings,
        checkpoint=f"{RUN_DIR}/checkpoints/step{{step}}.pt",
    script:
        "../scripts/estimate.py"


rule sample_size:
    input:
        manifest=MANIFEST,
    output:
        table=SAMPLE_SIZE,
    log:
        f"{RESULTS}/logs/sample_size/{{experiment}}/{{schedule}}/seed{{seed}}/step{{step}}.log",
    conda:
        "../../envs/stationarity.yaml"
    threads: 1
    resources:
        gpu=estimate_gpus,
        runtime=720,
    params:
        run=estimate_settings,
        checkpoint=f"{RUN_DIR}/checkpoints/step{{step}}.pt",
        sizes=sample_sizes,
    script:
        "../scripts/estimate.py"


rule collect:
    input:
        unpack(collect_inputs),
    output:
        **TABLES,
    log:
        f"{RESULTS}/logs/collect/{{experiment}}.log",
    conda:
        "../../envs/stationarity.yaml"
    params:
        wandb_dir=f"{RESULTS}/wandb",
    script:
        "../scripts/collect.py"
