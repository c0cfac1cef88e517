rule prepare:
    """One benchmark from its local jsonl or the pinned hub dataset, gold answers extracted."""
    input:
        benchmark_source,
    output:
        "data/benchmarks/{benchmark}.parquet",
    params:
        spec=prepare_spec,
    log:
        "logs/prepare/{benchmark}.log",
    conda:
        "../../envs/sampling.yaml"
    shell:
        "python -m rlvr_boundary prepare --spec {params.spec:q} --output {output:q} > {log:q} 2>&1"
