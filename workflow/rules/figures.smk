# Every figure: tables in, PNG (in the report), PDF and the Parquet of the plotted numbers out.


rule figure:
    input:
        unpack(figure_inputs),
    output:
        png=report(
            f"{RESULTS}/figures/{{name}}.png",
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": "{name}"},
        ),
        pdf=f"{RESULTS}/figures/{{name}}.pdf",
        data=f"{RESULTS}/figures/{{name}}.parquet",
    log:
        f"{RESULTS}/logs/figures/{{name}}.log",
    conda:
        "../../envs/stationarity.yaml"
    params:
        caption=figure_caption,
        sources=figure_sources,
        wandb_dir=f"{RESULTS}/wandb",
    script:
        "../scripts/figure.py"
