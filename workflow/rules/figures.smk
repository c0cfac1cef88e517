localrules:
    figure,
    grader_figure,
    solvable_table,


rule figure:
    """A configured figure grid of pass@k curves, with its plotted numbers as CSV."""
    input:
        lambda w: dag.figure_passk(config, w.figure),
    output:
        pdf=report(
            "figures/{figure}.pdf", caption="../report/figure.rst", category="Figures"
        ),
        csv="figures/{figure}.csv",
    log:
        "logs/figure/{figure}.log",
    conda:
        "../../envs/plot.yaml"
    params:
        spec=spec_json(lambda w: dag.figure_spec(config, w.figure)),
    shell:
        "python -m rlvr_boundary figure --spec {params.spec:q} --passk {input:q}"
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
    log:
        "logs/figure/graders-{figure}.log",
    conda:
        "../../envs/plot.yaml"
    params:
        spec=spec_json(lambda w: dag.figure_spec(config, w.figure, all_graders=True)),
    shell:
        "python -m rlvr_boundary figure --spec {params.spec:q} --passk {input.passk:q}"
        " --output {output.pdf:q} > {log:q} 2>&1"


rule solvable_table:
    """Tables 4 and 5: which problems each model solves at least once in n samples."""
    input:
        lambda w: dag.table_counts(config, w.table),
    output:
        report("figures/{table}.csv", caption="../report/table.rst", category="Tables"),
    log:
        "logs/figure/{table}.log",
    conda:
        "../../envs/plot.yaml"
    params:
        spec=spec_json(lambda w: dag.table_spec(config, w.table)),
    shell:
        "python -m rlvr_boundary solvable --spec {params.spec:q} --counts {input:q}"
        " --output {output:q} > {log:q} 2>&1"
