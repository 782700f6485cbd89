# The closed-form experiments: GD on the sine landscape (Fig. 5), Lemma 2's orbit, Theorem 1's SGD.


rule synthetic_table:
    output:
        table=PATHS.synthetic,
    log:
        f"{PATHS.logs}/synthetic/{{synthetic}}.log",
    conda:
        "../../envs/stationarity.yaml"
    params:
        settings=lambda w: PLAN.synthetic_settings(w.synthetic),
    script:
        "../scripts/synthetic_table.py"
