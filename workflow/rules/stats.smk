localrules:
    figure_stats,
    pair_stats,


rule figure_stats:
    """Per panel pair of a pass@k figure: intervals, paired difference, crossover, Delta-SE, solvable sets."""
    input:
        lambda w: dag.figure_counts(config, w.figure),
    output:
        stats=report(
            "results/stats/{figure}.csv",
            caption="../report/stats.rst",
            category="Pair statistics",
        ),
        differences=report(
            "results/stats/{figure}.differences.csv",
            caption="../report/differences.rst",
            category="Pair statistics",
        ),
        solvable=report(
            "results/stats/{figure}.solvable.csv",
            caption="../report/solvable_sets.rst",
            category="Pair statistics",
        ),
        provenance=report(
            "results/stats/{figure}.provenance.json",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        "logs/stats/{figure}.log",
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(lambda w: dag.stats_spec(config, w.figure)),
        about=lambda w: dag.about(config, w.figure),
    shell:
        "python -m rlvr_boundary stats --spec {params.spec:q} --counts {input:q}"
        " --output {output.stats:q} {output.differences:q} {output.solvable:q} {output.provenance:q}"
        " > {log:q} 2>&1"


rule pair_stats:
    """The same statistics for any two models on one benchmark (model_a the reference): one pair, one target."""
    input:
        lambda w: dag.pair_counts(config, w.grader, w.benchmark, w.model_a, w.model_b),
    output:
        stats=report(
            "results/stats/pairs/{grader}/{benchmark}/{model_a}/{model_b}.csv",
            caption="../report/pair_stats.rst",
            category="Pair statistics",
        ),
        differences="results/stats/pairs/{grader}/{benchmark}/{model_a}/{model_b}.differences.csv",
        solvable="results/stats/pairs/{grader}/{benchmark}/{model_a}/{model_b}.solvable.csv",
        provenance="results/stats/pairs/{grader}/{benchmark}/{model_a}/{model_b}.provenance.json",
    log:
        "logs/stats/pairs/{grader}/{benchmark}/{model_a}/{model_b}.log",
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(
            lambda w: dag.pair_stats_spec(
                config, w.grader, w.benchmark, w.model_a, w.model_b
            )
        ),
        about=lambda w: dag.about(
            config, models=[w.model_a, w.model_b], benchmarks=[w.benchmark]
        ),
    shell:
        "python -m rlvr_boundary stats --spec {params.spec:q} --counts {input:q}"
        " --output {output.stats:q} {output.differences:q} {output.solvable:q} {output.provenance:q}"
        " > {log:q} 2>&1"


rule lucky_guesses:
    """Every correct response on problems a model rarely solves, for judging its reasoning by hand."""
    input:
        unpack(
            lambda w: dag.lucky_inputs(
                config, w.grader, w.benchmark, w.model_a, w.model_b
            )
        ),
    output:
        report(
            "results/lucky/{grader}/{benchmark}/{model_a}/{model_b}.html",
            caption="../report/lucky.rst",
            category="Lucky guesses",
        ),
    log:
        "logs/lucky/{grader}/{benchmark}/{model_a}/{model_b}.log",
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(
            lambda w: dag.lucky_spec(
                config, w.grader, w.benchmark, w.model_a, w.model_b
            )
        ),
        about=lambda w: dag.about(
            config, models=[w.model_a, w.model_b], benchmarks=[w.benchmark]
        ),
    shell:
        "python -m rlvr_boundary lucky --spec {params.spec:q} --benchmark-table {input.table:q}"
        " --counts {input.counts_a:q} {input.counts_b:q}"
        " --verdicts-a {input.verdicts_a:q} --verdicts-b {input.verdicts_b:q}"
        " --samples-a {input.samples_a:q} --samples-b {input.samples_b:q}"
        " --output {output:q} > {log:q} 2>&1"
