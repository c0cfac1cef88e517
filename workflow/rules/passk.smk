rule count:
    """Per-problem sample and correct counts (n, c) over all seed shards of one grader's verdicts."""
    input:
        verdicts=lambda w: dag.verdict_shards(config, w.grader, w.model, w.benchmark),
        table="data/benchmarks/{benchmark}.parquet",
    output:
        "results/counts/{grader}/{model}/{benchmark}.parquet",
    log:
        "logs/count/{grader}/{model}/{benchmark}.log",
    wildcard_constraints:
        benchmark=one_of(dag.original_benchmarks(config)),
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(lambda w: dag.count_spec(config, w.model, w.benchmark)),
    shell:
        "python -m rlvr_boundary count --spec {params.spec:q} --verdicts {input.verdicts:q}"
        " --benchmark-table {input.table:q} --output {output:q} > {log:q} 2>&1"


rule passk:
    """Unbiased pass@k for every k from 1 to n, with its problem-bootstrap band and posterior sd."""
    input:
        "results/counts/{grader}/{model}/{benchmark}.parquet",
    output:
        "results/passk/{grader}/{model}/{benchmark}.parquet",
    log:
        "logs/passk/{grader}/{model}/{benchmark}.log",
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(lambda w: dag.curve_spec(config)),
    shell:
        "python -m rlvr_boundary passk --spec {params.spec:q} --counts {input:q} --output {output:q} > {log:q} 2>&1"


rule shard_passk:
    """pass@k of each seed shard on its own: how far runs of one model differ."""
    input:
        verdicts=lambda w: dag.verdict_shards(config, w.grader, w.model, w.benchmark),
        table="data/benchmarks/{benchmark}.parquet",
    output:
        "results/passk_by_shard/{grader}/{model}/{benchmark}.parquet",
    log:
        "logs/passk_by_shard/{grader}/{model}/{benchmark}.log",
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(lambda w: dag.shard_curve_spec(config, w.model, w.benchmark)),
    shell:
        "python -m rlvr_boundary shard-passk --spec {params.spec:q} --verdicts {input.verdicts:q}"
        " --benchmark-table {input.table:q} --output {output:q} > {log:q} 2>&1"
