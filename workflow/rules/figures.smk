# Every figure: tables in, PNG (in the report), PDF and the Parquet of the plotted numbers out.
# A figure of trained runs reads only the tables of the runs it draws (StudyPlan.figure_runs).

from stationarity.figures import FIGURES


rule figure:
    input:
        unpack(lambda w: PLAN.figure_inputs(w.name)),
    output:
        png=report(
            f"{PATHS.figure}.png",
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": "{name}"},
        ),
        pdf=f"{PATHS.figure}.pdf",
        data=f"{PATHS.figure}.parquet",
    log:
        f"{PATHS.logs}/figures/{{name}}.log",
    conda:
        "../../envs/stationarity.yaml"
    params:
        caption=lambda w: FIGURES[w.name].caption_for(
            [run.name for run in PLAN.figure_runs(w.name)], PLAN.figure_sources(w.name)
        ),
        sources=lambda w: PLAN.figure_sources(w.name),
        wandb_dir=PATHS.wandb,
    script:
        "../scripts/figure.py"
