# stationarity: loss, gradient norm, gradient noise and sharpness along training
# (Zhang, Li, Sra, Jadbabaie 2021). `snakemake --profile local all` runs the demo study,
# `snakemake --profile slurm all` the paper study. See README.md.

from snakemake.utils import min_version

min_version("9.0")


# The paper study, unless a study is given with --configfile: then that file alone is the config,
# never merged with this one (cluster jobs do not receive --replace-workflow-config).
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/estimate.smk"
include: "workflow/rules/synthetic.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tracking.smk"


rule all:
    default_target: True
    input:
        PLAN.all_figures(),
        PLAN.all_tables(),
    localrule: True


# One named target per figure of the config: `snakemake --profile local fig5`.
for figure_name in config["figures"]:

    rule:
        name:
            figure_name
        input:
            PATHS.figure_files(figure_name),
        localrule: True


# Snakemake takes a target that is no rule's name for a file; this rule claims such bare names.
rule unknown_target:
    input:
        # A bare target that names no rule is a mistyped one: stop, saying which targets exist.
        lambda w: PLAN.named_target(
            w.target, [r.name for r in workflow.rules if not r.has_wildcards()]
        ),
    output:
        "{target}",
    wildcard_constraints:
        target=r"[^/.]+",
    localrule: True
