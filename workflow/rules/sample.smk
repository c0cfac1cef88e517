rule sample:
    """One seed shard of one model on one benchmark (GPU); resumes from finished chunks."""
    input:
        table="data/benchmarks/{benchmark}.parquet",
        weights=lambda w: dag.model_weights(config, w.model),
    output:
        "results/samples/{model}/{benchmark}/seed{seed}.parquet",
    log:
        "logs/sample/{model}/{benchmark}/seed{seed}.log",
    wildcard_constraints:
        model=one_of(dag.sampled_models(config)),
    conda:
        "../../envs/sampling.yaml"
    threads: 2
    resources:
        **jobs.sample_rule_resources(config),  # gpu = tensor-parallel size; runtime grows per attempt
    params:
        spec=spec_json(
            lambda w: dag.sample_spec(config, w.model, w.benchmark, int(w.seed))
        ),
        offline="HF_HUB_OFFLINE=1 " if config.get("model_cache") else "",
    shell:
        "{params.offline}python -m rlvr_boundary sample --spec {params.spec:q} --benchmark-table {input.table:q}"
        " --output {output:q} --threads {threads} > {log:q} 2>&1"
