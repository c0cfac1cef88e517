localrules:
    figure,
    histogram_figure,
    entropy_figure,
    perplexity_figure,
    grader_figure,
    solvable_table,
    boundary_table,
    training_figure,


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


rule entropy_figure:
    """Fig. 17: base and RL at their temperature, and RL at the grid temperature whose entropy matches the base's."""
    input:
        passk=lambda w: dag.figure_passk(config, w.entropy_figure),
        matched=lambda w: dag.entropy_figure_matched(
            config,
            w.entropy_figure,
            checkpoints.entropy_match.get(entropy_figure=w.entropy_figure).output.csv,
        ),
        match="results/entropy_match/{entropy_figure}.csv",
    output:
        pdf=report(
            "figures/{entropy_figure}.pdf",
            caption="../report/entropy.rst",
            category="Figures",
        ),
        csv="figures/{entropy_figure}.csv",
        entropy=report(
            "figures/{entropy_figure}.entropy.csv",
            caption="../report/entropy_match.rst",
            category="Entropy",
        ),
        provenance="figures/{entropy_figure}.provenance.json",
    log:
        "logs/figure/{entropy_figure}.log",
    conda:
        "../../envs/plot.yaml"
    params:
        spec=spec_json(lambda w: dag.entropy_figure_spec(config, w.entropy_figure)),
        about=lambda w: dag.about(config, w.entropy_figure),
    shell:
        "python -m rlvr_boundary entropy-figure --spec {params.spec:q} --passk {input.passk:q}"
        " --matched {input.matched:q} --match {input.match:q} --output {output.pdf:q} > {log:q} 2>&1"


rule perplexity_figure:
    """Fig. 6: boxplots of the perplexity of base, RL and reference responses under the base and RL models."""
    input:
        scores=lambda w: dag.perplexity_figure_scores(config, w.perplexity_figure),
        table=lambda w: dag.perplexity_benchmark_table(config, w.perplexity_figure),
    output:
        pdf=report(
            "figures/{perplexity_figure}.pdf",
            caption="../report/perplexity.rst",
            category="Figures",
        ),
        csv="figures/{perplexity_figure}.csv",
        provenance="figures/{perplexity_figure}.provenance.json",
    log:
        "logs/figure/{perplexity_figure}.log",
    conda:
        "../../envs/plot.yaml"
    params:
        spec=spec_json(
            lambda w: dag.perplexity_figure_spec(config, w.perplexity_figure)
        ),
        about=lambda w: dag.about(config, w.perplexity_figure),
    shell:
        "python -m rlvr_boundary perplexity-figure --spec {params.spec:q} --scores {input.scores:q}"
        " --benchmark-table {input.table:q} --output {output.pdf:q} > {log:q} 2>&1"


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


rule boundary_table:
    """Tables 2 and 3: pass@1 and pass@k per model and benchmark, with Delta-SE against the base."""
    input:
        lambda w: dag.table_counts(config, w.boundary_table),
    output:
        csv=report(
            "figures/{boundary_table}.csv",
            caption="../report/boundary_table.rst",
            category="Tables",
        ),
        provenance=report(
            "figures/{boundary_table}.provenance.json",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        "logs/figure/{boundary_table}.log",
    conda:
        "../../envs/plot.yaml"
    params:
        spec=spec_json(lambda w: dag.boundary_table_spec(config, w.boundary_table)),
        about=lambda w: dag.about(
            config,
            models=config["tables"][w.boundary_table]["models"],
            benchmarks=config["tables"][w.boundary_table]["benchmarks"],
        ),
    shell:
        "python -m rlvr_boundary boundary-table --spec {params.spec:q} --counts {input:q}"
        " --output {output.csv:q} > {log:q} 2>&1"


rule training_figure:
    """Fig. 18: training curves (reward, response length, token entropy) of RL runs, from their logs."""
    input:
        lambda w: dag.training_logs(config, w.training_figure),
    output:
        pdf=report(
            "figures/{training_figure}.pdf",
            caption="../report/training.rst",
            category="Figures",
        ),
        csv="figures/{training_figure}.csv",
        provenance="figures/{training_figure}.provenance.json",
    log:
        "logs/figure/{training_figure}.log",
    conda:
        "../../envs/plot.yaml"
    params:
        spec=spec_json(lambda w: dag.training_figure_spec(config, w.training_figure)),
    shell:
        "python -m rlvr_boundary training-figure --spec {params.spec:q} --logs {input:q}"
        " --output {output.pdf:q} > {log:q} 2>&1"
