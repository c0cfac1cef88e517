rule import_samples:
    """One seed shard of a model's samples read from another tool's files (samples_from), not sampled."""
    input:
        table="data/benchmarks/{benchmark}.parquet",
        sources=lambda w: dag.import_sources(config, w.model, w.benchmark),
    output:
        "results/samples/{model}/{benchmark}/seed{seed}.parquet",
    log:
        "logs/import/{model}/{benchmark}/seed{seed}.log",
    wildcard_constraints:
        model=one_of(dag.imported_models(config)),
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(
            lambda w: dag.import_spec(config, w.model, w.benchmark, int(w.seed))
        ),
    shell:
        "python -m rlvr_boundary import-samples --spec {params.spec:q} --benchmark-table {input.table:q}"
        " --output {output:q} > {log:q} 2>&1"
