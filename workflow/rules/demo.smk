# The CPU demo's inputs, built offline: a synthetic arithmetic benchmark and tiny models.
# Only used when the config has a `demo` section (profiles/demo adds one).


rule demo_benchmark:
    """A synthetic arithmetic benchmark in the jsonl format of the math benchmarks."""
    output:
        "data/demo/{benchmark}.jsonl",
    log:
        "logs/demo/benchmark-{benchmark}.log",
    conda:
        "../../envs/sampling.yaml"
    params:
        kind=lambda w: config["demo"]["benchmarks"][w.benchmark]["kind"],
        problems=lambda w: config["demo"]["benchmarks"][w.benchmark]["problems"],
        seed=lambda w: config["demo"]["benchmarks"][w.benchmark]["seed"],
    shell:
        "python -m rlvr_boundary demo-benchmark --kind {params.kind} --problems {params.problems}"
        " --seed {params.seed} --output {output:q} > {log:q} 2>&1"


rule demo_worked_solutions:
    """Each demo problem's worked solution as a response file: the demo's Y_GT for Fig. 6."""
    input:
        "data/demo/{benchmark}.jsonl",
    output:
        "data/demo/worked/{benchmark}.jsonl",
    log:
        "logs/demo/worked-{benchmark}.log",
    conda:
        "../../envs/sampling.yaml"
    shell:
        "python -m rlvr_boundary demo-worked --benchmark {input:q} --output {output:q} > {log:q} 2>&1"


rule demo_model:
    """A tiny Qwen2 trained on the arithmetic task (or trained further from another demo model)."""
    input:
        init=lambda w: dag.demo_model_init(config, w.model),
        exclude=lambda w: [f"data/demo/{b}.jsonl" for b in config["demo"]["benchmarks"]],
    output:
        directory("data/demo/models/{model}"),
    log:
        "logs/demo/model-{model}.log",
    conda:
        "../../envs/sampling.yaml"
    threads: 2
    params:
        spec=lambda w: config["demo"]["models"][w.model],
        init=lambda w, input: f"--init-from {input.init[0]}" if input.init else "",
    shell:
        "python -m rlvr_boundary demo-model --steps {params.spec[steps]}"
        " --seed {params.spec[seed]} {params.init} --exclude {input.exclude:q} --threads {threads}"
        " --output {output:q} > {log:q} 2>&1"


if "demo" in config:

    rule demo:
        """The demo's targets: its figures and tables with their statistics, per-shard curves and lucky-guess pages."""
        input:
            dag.demo_targets(config),
