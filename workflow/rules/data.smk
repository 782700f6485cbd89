# Data preparation, once per data set and root. Downloads need internet, so they run on the login
# node; ImageNet comes as archives the user placed, and hashing and unpacking 150 GB is a job.


rule prepare_data:
    output:
        receipt="{data_root}/.prepared-{dataset}.json",
    log:
        "{data_root}/.prepared-{dataset}.log",
    wildcard_constraints:
        dataset=one_of(name for name, _ in PLAN.data_sets if name != "imagenet"),
    localrule: True
    conda:
        "../../envs/stationarity.yaml"
    params:
        dataset=lambda w: w.dataset,
        config_key=lambda w: PLAN.data_sets[(w.dataset, w.data_root)],
        # Only the revision: a changed tgt_len must not download the corpus again.
        revision=lambda w: PLAN.data_options(w.dataset, w.data_root).get("revision"),
    script:
        "../scripts/prepare_data.py"


# One pass over the archives (the MD5 check, then the unpacking) reads at disk speed, on one core.
rule unpack_imagenet:
    output:
        receipt="{data_root}/.prepared-imagenet.json",
    log:
        "{data_root}/.prepared-imagenet.log",
    conda:
        "../../envs/stationarity.yaml"
    threads: 1
    resources:
        cpus_per_task=1,
        mem_mb=4000,
        # 1.3 M files on a shared filesystem take hours; a retry resumes at the unfinished class.
        runtime=lambda w, attempt: 12 * 60 * attempt,
    params:
        dataset="imagenet",
        config_key=lambda w: PLAN.data_sets[("imagenet", w.data_root)],
    script:
        "../scripts/prepare_data.py"


# `snakemake --profile slurm prepare_all`: every data set of the config, first (from the login node).
rule prepare_all:
    input:
        PLAN.data_receipts(),
    localrule: True
