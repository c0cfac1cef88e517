localrules:
    figure,
    histogram_figure,
    grader_figure,
    solvable_table,


rule figure:
    """A configured figure grid of pass@k curves with bootstrap bands and crossover marks."""
    input:
        passk=lambda w: dag.figure_passk(config, w.figure),
        stats="results/stats/{figure}.csv",
    output:
        pdf=report(
            "figures/{figure}.pdf", caption="../report/figure.rst", category="Figures"
        ),
        csv=report(
            "figures/{figure}.csv", caption="../report/points.rst", category="Figures"
        ),
        provenance=report(
            "figures/{figure}.provenance.json",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        "logs/figure/{figure}.log",
    conda:
        "../../envs/plot.yaml"
    params:
        spec=spec_json(lambda w: dag.figure_spec(config, w.figure)),
        about=lambda w: dag.about(config, w.figure),
    shell:
        "python -m rlvr_boundary figure --spec {params.spec:q} --passk {input.passk:q}"
        " --stats {input.stats:q} --output {output.pdf:q} > {log:q} 2>&1"


rule histogram_figure:
    """Figs. 5 and 13: per-problem accuracy c/n in the paper's bins, per model."""
    input:
        lambda w: dag.figure_counts(config, w.histogram),
    output:
        pdf=report(
            "figures/{histogram}.pdf",
            caption="../report/histogram.rst",
            category="Figures",
        ),
        csv=report(
            "figures/{histogram}.csv",
            caption="../report/histogram_points.rst",
            category="Figures",
        ),
        provenance=report(
            "figures/{histogram}.provenance.json",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        "logs/figure/{histogram}.log",
    conda:
        "../../envs/plot.yaml"
    params:
        spec=spec_json(lambda w: dag.figure_spec(config, w.histogram)),
        about=lambda w: dag.about(config, w.histogram),
    shell:
        "python -m rlvr_boundary histogram --spec {params.spec:q} --counts {input:q}"
        " --output {output.pdf:q} > {log:q} 2>&1"


rule grader_figure:
    """The same figure with every math grader's curves: how far the boundary moves with the grader."""
    input:
        passk=lambda w: dag.figure_passk(config, w.figure, all_graders=True),
        disagreements=lambda w: dag.figure_disagreements(config, w.figure),
    output:
        pdf=report(
            "figures/graders/{figure}.pdf",
            caption="../report/graders.rst",
            category="Graders",
        ),
        csv="figures/graders/{figure}.csv",
        provenance="figures/graders/{figure}.provenance.json",
    log:
        "logs/figure/graders-{figure}.log",
    conda:
        "../../envs/plot.yaml"
    params:
        spec=spec_json(lambda w: dag.figure_spec(config, w.figure, all_graders=True)),
        about=lambda w: dag.about(config, w.figure),
    shell:
        "python -m rlvr_boundary figure --spec {params.spec:q} --passk {input.passk:q}"
        " --output {output.pdf:q} > {log:q} 2>&1"


rule solvable_table:
    """Tables 4 and 5: which problems each model solves at least once in n samples."""
    input:
        lambda w: dag.table_counts(config, w.table),
    output:
        csv=report(
            "figures/{table}.csv", caption="../report/table.rst", category="Tables"
        ),
        provenance=report(
            "figures/{table}.provenance.json",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        "logs/figure/{table}.log",
    conda:
        "../../envs/plot.yaml"
    params:
        spec=spec_json(lambda w: dag.table_spec(config, w.table)),
        about=lambda w: dag.about(
            config,
            models=config["tables"][w.table]["models"],
            benchmarks=[config["tables"][w.table]["benchmark"]],
        ),
    shell:
        "python -m rlvr_boundary solvable --spec {params.spec:q} --counts {input:q}"
        " --output {output.csv:q} > {log:q} 2>&1"
