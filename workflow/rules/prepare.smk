rule prepare:
    """One benchmark from its local jsonl or the pinned hub dataset, gold answers extracted."""
    input:
        lambda w: dag.benchmark_source(config, w.benchmark),
    output:
        "data/benchmarks/{benchmark}.parquet",
    log:
        "logs/prepare/{benchmark}.log",
    conda:
        "../../envs/sampling.yaml"
    params:
        spec=spec_json(lambda w: dag.prepare_spec(config, w.benchmark)),
    shell:
        "python -m rlvr_boundary prepare --spec {params.spec:q} --output {output:q} > {log:q} 2>&1"
