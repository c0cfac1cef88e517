rule verify:
    """Judge one shard of samples against the gold answers (CPU)."""
    input:
        samples="results/samples/{model}/{benchmark}/seed{seed}.parquet",
        table="data/benchmarks/{benchmark}.parquet",
    output:
        "results/verdicts/{model}/{benchmark}/seed{seed}.parquet",
    params:
        spec=lambda w: as_json({
            "benchmark": w.benchmark,
            "grader": config["verify"]["grader"],
            "timeout_s": config["verify"]["timeout_s"],
        }),
    log:
        "logs/verify/{model}/{benchmark}/seed{seed}.log",
    threads: config["verify"]["workers"]
    conda:
        "../../envs/verify.yaml"
    shell:
        "python -m rlvr_boundary verify --spec {params.spec:q} --samples {input.samples:q}"
        " --benchmark-table {input.table:q} --output {output:q} --workers {threads} > {log:q} 2>&1"
