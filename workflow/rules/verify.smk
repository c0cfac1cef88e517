rule verify:
    """Judge one shard of samples with one grader (CPU): math answers against the gold, programs by their tests in the sandbox."""
    input:
        samples="results/samples/{model}/{benchmark}/seed{seed}.parquet",
        table="data/benchmarks/{benchmark}.parquet",
        trusted=lambda w: dag.trusted_sources(config, w.model, w.benchmark),
    output:
        "results/verdicts/{grader}/{model}/{benchmark}/seed{seed}.parquet",
    log:
        "logs/verify/{grader}/{model}/{benchmark}/seed{seed}.log",
    conda:
        "../../envs/verify.yaml"
    threads: config["verify"]["workers"]
    resources:
        **jobs.verify_rule_resources(config),  # code: grows with samples x tests; x attempt
    params:
        spec=spec_json(
            lambda w: dag.verify_spec(
                config, w.grader, w.model, w.benchmark, int(w.seed)
            )
        ),
    shell:
        "python -m rlvr_boundary verify --spec {params.spec:q} --samples {input.samples:q}"
        " --benchmark-table {input.table:q} --output {output:q} --workers {threads} > {log:q} 2>&1"


rule disagreements:
    """Where another math grader judges the same samples differently from ours: a join of their verdicts."""
    input:
        reference=lambda w: dag.verdict_shards(
            config, rb_config.MATH_GRADERS[0], w.model, w.benchmark
        ),
        other=lambda w: dag.verdict_shards(config, w.grader, w.model, w.benchmark),
        samples=lambda w: dag.sample_shards(config, w.model, w.benchmark),
        table="data/benchmarks/{benchmark}.parquet",
    output:
        "results/grader_disagreements/{grader}/{model}/{benchmark}.parquet",
    log:
        "logs/disagreements/{grader}/{model}/{benchmark}.log",
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(lambda w: dag.disagreement_spec(w.benchmark, w.grader)),
    shell:
        "python -m rlvr_boundary disagreements --spec {params.spec:q} --verdicts-a {input.reference:q}"
        " --verdicts-b {input.other:q} --samples {input.samples:q} --benchmark-table {input.table:q}"
        " --output {output:q} > {log:q} 2>&1"
