localrules:
    figure,
    grader_figure,
    solvable_table,


rule figure:
    """A configured figure grid of pass@k curves, with its plotted numbers as CSV."""
    input:
        figure_passk,
    output:
        pdf=report("figures/{figure}.pdf", caption="../report/figure.rst", category="Figures"),
        csv="figures/{figure}.csv",
    params:
        spec=figure_spec,
    log:
        "logs/figure/{figure}.log",
    conda:
        "../../envs/plot.yaml"
    shell:
        "python -m rlvr_boundary figure --spec {params.spec:q} --passk {input:q}"
        " --output {output.pdf:q} > {log:q} 2>&1"


rule grader_figure:
    """How a figure's pass@k curves move when the paper's grader replaces ours."""
    input:
        figure_grader_curves,
    output:
        pdf=report("figures/graders/{figure}.pdf", caption="../report/graders.rst", category="Graders"),
        csv="figures/graders/{figure}.csv",
    params:
        spec=figure_spec,
    log:
        "logs/figure/graders-{figure}.log",
    conda:
        "../../envs/plot.yaml"
    shell:
        "python -m rlvr_boundary figure --graders --spec {params.spec:q} --passk {input:q}"
        " --output {output.pdf:q} > {log:q} 2>&1"


rule solvable_table:
    """Tables 4 and 5: which problems each model solves at least once in n samples."""
    input:
        table_counts,
    output:
        report("figures/{table}.csv", caption="../report/table.rst", category="Tables"),
    params:
        spec=table_spec,
    log:
        "logs/figure/{table}.log",
    conda:
        "../../envs/plot.yaml"
    shell:
        "python -m rlvr_boundary solvable --spec {params.spec:q} --counts {input:q}"
        " --output {output:q} > {log:q} 2>&1"
