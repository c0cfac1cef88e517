rule count:
    """Per-problem sample and correct counts (n, c) over all seed shards of one grader's verdicts."""
    input:
        verdicts=lambda w: dag.verdict_shards(config, w.grader, w.model, w.benchmark),
        table="data/benchmarks/{benchmark}.parquet",
    output:
        "results/counts/{grader}/{model}/{benchmark}.parquet",
    log:
        "logs/count/{grader}/{model}/{benchmark}.log",
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(lambda w: dag.count_spec(config, w.model, w.benchmark)),
    shell:
        "python -m rlvr_boundary count --spec {params.spec:q} --verdicts {input.verdicts:q}"
        " --benchmark-table {input.table:q} --output {output:q} > {log:q} 2>&1"


rule passk:
    """Unbiased pass@k for every k from 1 to n, averaged over problems."""
    input:
        "results/counts/{grader}/{model}/{benchmark}.parquet",
    output:
        "results/passk/{grader}/{model}/{benchmark}.parquet",
    log:
        "logs/passk/{grader}/{model}/{benchmark}.log",
    conda:
        "../../envs/verify.yaml"
    shell:
        "python -m rlvr_boundary passk --counts {input:q} --output {output:q} > {log:q} 2>&1"
