rule verify:
    """Judge one shard of samples (CPU): math answers against the gold, programs by the tests in the sandbox."""
    input:
        samples="results/samples/{model}/{benchmark}/seed{seed}.parquet",
        table="data/benchmarks/{benchmark}.parquet",
    output:
        "results/verdicts/{model}/{benchmark}/seed{seed}.parquet",
    params:
        spec=verify_spec,
    log:
        "logs/verify/{model}/{benchmark}/seed{seed}.log",
    threads: config["verify"]["workers"]
    resources:
        **rb_plan.verify_rule_resources(config),  # code: grows with samples x tests; x attempt
    conda:
        "../../envs/verify.yaml"
    shell:
        "python -m rlvr_boundary verify --spec {params.spec:q} --samples {input.samples:q}"
        " --benchmark-table {input.table:q} --output {output:q} --workers {threads} > {log:q} 2>&1"


rule compare_graders:
    """The same samples graded by our verifier and by the paper's extraction order."""
    input:
        samples=sample_shards,
        table="data/benchmarks/{benchmark}.parquet",
    output:
        disagreements="results/grader_disagreements/{model}/{benchmark}.parquet",
        curves="results/grader_disagreements/{model}/{benchmark}.passk.parquet",
    params:
        spec=lambda w: as_json({
            "benchmark": w.benchmark,
            "n": rb_config.n_samples(config, w.model, w.benchmark),
            "timeout_s": config["verify"]["timeout_s"],
        }),
    log:
        "logs/compare_graders/{model}/{benchmark}.log",
    threads: config["verify"]["workers"]
    conda:
        "../../envs/verify.yaml"
    shell:
        "python -m rlvr_boundary compare-graders --spec {params.spec:q} --samples {input.samples:q}"
        " --benchmark-table {input.table:q} --disagreements {output.disagreements:q}"
        " --curves {output.curves:q} --workers {threads} > {log:q} 2>&1"
