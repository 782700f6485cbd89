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
        config_key=data_config_key,
    script:
        "../scripts/prepare_data.py"


# `snakemake --profile slurm prepare_all`: every data set of the config, on the login node, first.
rule prepare_all:
    input:
        [os.path.join(root, f".prepared-{name}.json") for name, root in DATA_KEYS],
    localrule: True
