rule sample:
    """One seed shard of one model on one benchmark (GPU); resumes from finished chunks."""
    input:
        table="data/benchmarks/{benchmark}.parquet",
        weights=model_weights,
    output:
        "results/samples/{model}/{benchmark}/seed{seed}.parquet",
    params:
        spec=sample_spec,
        offline=hub_offline,
    log:
        "logs/sample/{model}/{benchmark}/seed{seed}.log",
    threads: 2
    resources:
        **rb_plan.sample_rule_resources(config),  # gpu = tensor-parallel size; runtime grows per attempt
    conda:
        "../../envs/sampling.yaml"
    shell:
        "{params.offline}python -m rlvr_boundary sample --spec {params.spec:q} --benchmark-table {input.table:q}"
        " --output {output:q} --threads {threads} > {log:q} 2>&1"
