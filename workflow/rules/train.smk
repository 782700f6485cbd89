# Training: one job per run (experiment, schedule, seed). Checkpoints live in a params folder, never a
# declared output, so Snakemake cannot delete them when a job fails; a retry resumes from them.


rule train:
    input:
        unpack(lambda w: PLAN.train_inputs(PLAN.run(w))),
    output:
        manifest=PATHS.manifest,
        train_log=PATHS.train_log,
    log:
        f"{PATHS.logs}/train/{{experiment}}/{{schedule}}/seed{{seed}}.log",
    conda:
        "../../envs/stationarity.yaml"
    threads: lambda w: PLAN.train_resources(PLAN.run(w)).threads
    resources:
        gpu=lambda w: PLAN.train_resources(PLAN.run(w)).gpu,
        # From the plan, not `threads`: a remote executor resolves `threads` to 1 at submission.
        cpus_per_task=lambda w: PLAN.train_resources(PLAN.run(w)).threads,
        mem_mb=lambda w: PLAN.train_resources(PLAN.run(w)).mem_mb,
        runtime=lambda w, attempt: PLAN.train_resources(PLAN.run(w)).runtime(attempt),
    params:
        run=lambda w: PLAN.train_settings(PLAN.run(w)),
        checkpoint_dir=lambda w: PLAN.checkpoint_dir(PLAN.run(w)),
        wandb_dir=PATHS.wandb,
    script:
        "../scripts/train.py"


rule train_all:
    input:
        [PATHS.fill(PATHS.manifest, run) for run in PLAN.runs],
    localrule: True
