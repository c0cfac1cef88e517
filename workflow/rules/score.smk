# Scoring given responses under a model (Fig. 6): one GPU job per (scorer, responses).


rule reference_responses:
    """A perplexity figure's Y_GT: responses read from a configured file (e.g. a stronger model's)."""
    input:
        file=lambda w: config["figures"][w.perplexity_figure]["reference"]["path"],
        table=lambda w: dag.perplexity_benchmark_table(config, w.perplexity_figure),
    output:
        "results/references/{perplexity_figure}.parquet",
    log:
        "logs/reference/{perplexity_figure}.log",
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(lambda w: dag.reference_spec(config, w.perplexity_figure)),
    shell:
        "python -m rlvr_boundary reference --spec {params.spec:q} --benchmark-table {input.table:q}"
        " --output {output:q} > {log:q} 2>&1"


rule score:
    """Log-likelihood and perplexity of given responses under a model: one prefill pass (GPU)."""
    input:
        unpack(lambda w: dag.score_inputs(config, w.scorer, w.responses)),
    output:
        "results/scores/{scorer}/{responses}.parquet",
    log:
        "logs/score/{scorer}/{responses}.log",
    wildcard_constraints:
        scorer=one_of(dag.sampled_models(config)),
        responses=rf"samples/{NAME}/{NAME}/seed\d+|references/{NAME}",
    conda:
        "../../envs/sampling.yaml"
    threads: 2
    resources:
        **jobs.score_rule_resources(config),  # gpu = the scorer's tensor-parallel size
    params:
        spec=spec_json(lambda w: dag.score_spec(config, w.scorer, w.responses)),
        offline="HF_HUB_OFFLINE=1 " if config.get("model_cache") else "",
    shell:
        "{params.offline}python -m rlvr_boundary score --spec {params.spec:q} --responses {input.responses:q}"
        " --benchmark-table {input.table:q} --output {output:q} --threads {threads} > {log:q} 2>&1"
