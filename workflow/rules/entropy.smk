# Token entropy of samples and the entropy-matched temperature (Fig. 17).


rule entropy:
    """Per-sample mean token entropy of one shard (from the logprobs the engine recorded)."""
    input:
        "results/samples/{model}/{benchmark}/seed{seed}.parquet",
    output:
        "results/entropy/{model}/{benchmark}/seed{seed}.parquet",
    log:
        "logs/entropy/{model}/{benchmark}/seed{seed}.log",
    conda:
        "../../envs/verify.yaml"
    shell:
        "python -m rlvr_boundary entropy --samples {input:q} --output {output:q} > {log:q} 2>&1"


checkpoint entropy_match:
    """Per panel, the grid temperature whose entropy is nearest the reference's: the figure then draws that run."""
    input:
        lambda w: dag.entropy_match_inputs(config, w.entropy_figure),
    output:
        csv=report(
            "results/entropy_match/{entropy_figure}.csv",
            caption="../report/entropy_match.rst",
            category="Entropy",
        ),
        provenance="results/entropy_match/{entropy_figure}.provenance.json",
    log:
        "logs/entropy_match/{entropy_figure}.log",
    conda:
        "../../envs/verify.yaml"
    params:
        spec=spec_json(lambda w: dag.entropy_match_spec(config, w.entropy_figure)),
    shell:
        "python -m rlvr_boundary entropy-match --spec {params.spec:q} --entropy {input:q}"
        " --output {output.csv:q} > {log:q} 2>&1"
