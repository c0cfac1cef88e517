ruleorder: subset_samples > sample


rule sample:
    """One seed shard of one model on one benchmark (GPU); resumes from its flushed samples."""
    input:
        table="data/benchmarks/{benchmark}.parquet",
        weights=lambda w: dag.model_weights(config, w.model),
    output:
        "results/samples/{model}/{benchmark}/seed{seed}.parquet",
    log:
        "logs/sample/{model}/{benchmark}/seed{seed}.log",
    benchmark:
        "results/benchmarks/sample/{model}/{benchmark}/seed{seed}.tsv"  # read by plan --calibrate
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
        cadence=dag.sample_job_options(config),
    shell:
        "{params.offline}python -m rlvr_boundary sample --spec {params.spec:q} --benchmark-table {input.table:q}"
        " --output {output:q} --threads {threads} {params.cadence} > {log:q} 2>&1"


rule subset_samples:
    """A subset benchmark's shard cut from its superset's samples (subset_of): the same samples, not drawn twice."""
    input:
        unpack(lambda w: dag.subset_inputs(config, w.pair, int(w.seed))),
    output:
        "results/samples/{pair}/seed{seed}.parquet",
    log:
        "logs/subset_samples/{pair}/seed{seed}.log",
    wildcard_constraints:
        pair=one_of(dag.derived_pairs(config)),
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(lambda w: dag.subset_spec(config, w.pair, int(w.seed))),
    shell:
        "python -m rlvr_boundary subset-samples --spec {params.spec:q} --superset-samples {input.superset_samples:q}"
        " --benchmark-table {input.table:q} --superset-table {input.superset_table:q} --output {output:q} > {log:q} 2>&1"
