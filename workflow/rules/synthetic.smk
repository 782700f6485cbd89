# The closed-form experiments: GD on the sine landscape (Fig. 5), Lemma 2's orbit, Theorem 1's SGD.


rule synthetic_table:
    output:
        table=f"{RESULTS}/synthetic/{{synthetic}}.parquet",
    log:
        f"{RESULTS}/logs/synthetic/{{synthetic}}.log",
    conda:
        "../../envs/stationarity.yaml"
    params:
        settings=synthetic_settings,
    script:
        "../scripts/synthetic_table.py"
