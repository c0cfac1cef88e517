# The guessing filter (Appendix D.2, Fig. 12): a benchmark without the problems a model guesses.


rule guess_filter:
    """Which problems the answer-only model guesses (accuracy in (0, below)): kept or dropped."""
    input:
        lambda w: dag.guess_filter_counts(config, w.grader, w.benchmark),
    output:
        "results/filters/{grader}/{benchmark}.parquet",
    log:
        "logs/guess_filter/{grader}/{benchmark}.log",
    wildcard_constraints:
        benchmark=one_of(dag.filtered_benchmarks(config)),
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(lambda w: dag.guess_filter_spec(config, w.benchmark)),
    shell:
        "python -m rlvr_boundary guess-filter --spec {params.spec:q} --counts {input:q} --output {output:q} > {log:q} 2>&1"


rule kept_counts:
    """A filtered benchmark's (n, c): its origin's counts, kept problems only (no new samples)."""
    input:
        unpack(lambda w: dag.kept_counts_inputs(config, w.grader, w.model, w.benchmark)),
    output:
        "results/counts/{grader}/{model}/{benchmark}.parquet",
    log:
        "logs/count/{grader}/{model}/{benchmark}.log",
    wildcard_constraints:
        benchmark=one_of(dag.filtered_benchmarks(config)),
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(lambda w: dag.guess_filter_spec(config, w.benchmark)),
    shell:
        "python -m rlvr_boundary kept-counts --spec {params.spec:q} --counts {input.counts:q}"
        " --filter {input.filter:q} --output {output:q} > {log:q} 2>&1"
