# stationarity: loss, gradient norm, gradient noise and sharpness along training
# (Zhang, Li, Sra, Jadbabaie 2021). `snakemake --profile local all` runs the demo study,
# `snakemake --profile slurm all` the paper study. See README.md.

from snakemake.utils import min_version

min_version("9.0")


configfile: f"{workflow.basedir}/config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/synthetic.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    input:
        all_figures(),
        all_manifests(),
    localrule: True


# One named target per figure of the config: `snakemake --profile local fig5`.
for figure_name in config["figures"]:

    rule:
        name:
            figure_name
        input:
            figure_files(figure_name),
        localrule: True
