# Data preparation, once per data set and root, on the login node: it needs the archives or internet.


rule prepare_data:
    output:
        receipt="{data_root}/.prepared-{dataset}.json",
    log:
        "{data_root}/.prepared-{dataset}.log",
    localrule: True
    conda:
        "../../envs/stationarity.yaml"
    params:
        config_key=lambda w: PLAN.data_sets[(w.dataset, w.data_root)],
    script:
        "../scripts/prepare_data.py"


# `snakemake --profile slurm prepare_all`: every data set of the config, on the login node, first.
rule prepare_all:
    input:
        PLAN.data_receipts(),
    localrule: True
