# Estimation: the four statistics at every (estimated) checkpoint of every run, the sample-size
# study at selected checkpoints, and one tidy table per run.


rule estimate:
    input:
        manifest=PATHS.manifest,
    output:
        stats=PATHS.stats,
    log:
        f"{PATHS.logs}/estimate/{{experiment}}/{{schedule}}/seed{{seed}}/step{{step}}.log",
    conda:
        "../../envs/stationarity.yaml"
    threads: lambda w: PLAN.estimate_resources(PLAN.run(w), w.step).threads
    resources:
        gpu=lambda w: PLAN.estimate_resources(PLAN.run(w), w.step).gpu,
        cpus_per_task=lambda w: PLAN.estimate_resources(PLAN.run(w), w.step).threads,
        mem_mb=lambda w: PLAN.estimate_resources(PLAN.run(w), w.step).mem_mb,
        runtime=lambda w, attempt: PLAN.estimate_resources(
            PLAN.run(w), w.step
        ).runtime(attempt),
    params:
        run=lambda w: PLAN.estimate_settings(PLAN.run(w)),
        checkpoint=lambda w: PLAN.checkpoint_file(PLAN.run(w), w.step),
        sharpness=lambda w: PLAN.measures_sharpness(PLAN.run(w), w.step),
    script:
        "../scripts/estimate.py"


rule sample_size:
    input:
        manifest=PATHS.manifest,
    output:
        table=PATHS.sample_size,
    log:
        f"{PATHS.logs}/sample_size/{{experiment}}/{{schedule}}/seed{{seed}}/step{{step}}.log",
    conda:
        "../../envs/stationarity.yaml"
    threads: lambda w: PLAN.sample_size_resources(PLAN.run(w)).threads
    resources:
        gpu=lambda w: PLAN.sample_size_resources(PLAN.run(w)).gpu,
        cpus_per_task=lambda w: PLAN.sample_size_resources(PLAN.run(w)).threads,
        mem_mb=lambda w: PLAN.sample_size_resources(PLAN.run(w)).mem_mb,
        runtime=lambda w, attempt: PLAN.sample_size_resources(PLAN.run(w)).runtime(
            attempt
        ),
    params:
        run=lambda w: PLAN.estimate_settings(PLAN.run(w)),
        checkpoint=lambda w: PLAN.checkpoint_file(PLAN.run(w), w.step),
        sizes=lambda w: PLAN.sample_sizes(PLAN.run(w)),
        sharpness_sizes=lambda w: PLAN.sharpness_sizes(PLAN.run(w)),
    script:
        "../scripts/estimate.py"


rule collect:
    input:
        unpack(lambda w: PLAN.collect_inputs(PLAN.run(w))),
    output:
        table=PATHS.table,
    log:
        f"{PATHS.logs}/collect/{{experiment}}/{{schedule}}/seed{{seed}}.log",
    conda:
        "../../envs/stationarity.yaml"
    params:
        identity=lambda w: PLAN.identity(PLAN.run(w)),
        wandb_dir=PATHS.wandb,
    script:
        "../scripts/collect.py"
