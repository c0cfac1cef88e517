rule count:
    """Per-problem sample and correct counts (n, c) over all seed shards."""
    input:
        verdicts=verdict_shards,
        table="data/benchmarks/{benchmark}.parquet",
    output:
        "results/counts/{model}/{benchmark}.parquet",
    params:
        spec=lambda w: as_json({
            "benchmark": w.benchmark,
            "n": rb_config.n_samples(config, w.model, w.benchmark),
        }),
    log:
        "logs/count/{model}/{benchmark}.log",
    conda:
        "../../envs/verify.yaml"
    shell:
        "python -m rlvr_boundary count --spec {params.spec:q} --verdicts {input.verdicts:q}"
        " --benchmark-table {input.table:q} --output {output:q} > {log:q} 2>&1"


rule passk:
    """Unbiased pass@k for every k from 1 to n, averaged over problems."""
    input:
        "results/counts/{model}/{benchmark}.parquet",
    output:
        "results/passk/{model}/{benchmark}.parquet",
    log:
        "logs/passk/{model}/{benchmark}.log",
    conda:
        "../../envs/verify.yaml"
    shell:
        "python -m rlvr_boundary passk --counts {input:q} --output {output:q} > {log:q} 2>&1"
