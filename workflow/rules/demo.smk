# The CPU demo's inputs, built offline: a synthetic arithmetic benchmark and tiny models.
# Only used when the config has a `demo` section (profiles/demo adds one).


rule demo_benchmark:
    """A synthetic arithmetic benchmark in the jsonl format of the math benchmarks (a train split leaves out the test splits' questions)."""
    input:
        exclude=lambda w: dag.demo_benchmark_exclude(config, w.benchmark),
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
        " --seed {params.seed} --exclude {input.exclude:q} --output {output:q} > {log:q} 2>&1"


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
        " --seed {params.spec[seed]} {params.init} --solutions {params.spec[solutions]}"
        " --exclude {input.exclude:q} --threads {threads}"
        " --output {output:q} > {log:q} 2>&1"


rule tiny_vl:
    """A tiny random-weight Qwen2.5-VL, built offline: the visual path on a CPU (examples/visual-cpu.yaml)."""
    output:
        directory("data/demo/vl/tiny-vl-seed{seed}"),
    log:
        "logs/demo/tiny-vl-seed{seed}.log",
    wildcard_constraints:
        seed=r"\d+",
    conda:
        "../../envs/sampling.yaml"
    shell:
        "python -m rlvr_boundary tiny-vl --seed {wildcards.seed} --output {output:q} > {log:q} 2>&1"


rule rl_train:
    """The lab's RLVR: TRL's GRPO or RLOO from a demo model on a train split, rewarded by the math verifier; checkpoints and a training log."""
    input:
        unpack(lambda w: dag.rl_inputs(config, w.run)),
    output:
        "data/demo/rl/{run}/training_log.parquet",
    log:
        "logs/demo/rl-{run}.log",
    conda:
        "../../envs/sampling.yaml"
    threads: 2
    params:
        spec=spec_json(lambda w: dag.rl_spec(config, w.run)),
        folder=lambda w, output: os.path.dirname(output[0]),
    shell:
        "python -m rlvr_boundary rl-train --spec {params.spec:q} --init {input.init:q}"
        " --problems {input.problems:q} --threads {threads} --output {params.folder:q} > {log:q} 2>&1"


rule demo_distill:
    """The lab's distillation: a demo model fine-tuned on the teacher's correct samples on a train split."""
    input:
        unpack(lambda w: dag.distill_inputs(config, w.name)),
    output:
        directory("data/demo/distilled/{name}"),
    log:
        "logs/demo/distill-{name}.log",
    conda:
        "../../envs/sampling.yaml"
    threads: 2
    params:
        spec=lambda w: config["demo"]["distill"][w.name],
    shell:
        "python -m rlvr_boundary demo-distill --student {input.student:q} --benchmark {input.benchmark:q}"
        " --samples {input.samples:q} --verdicts {input.verdicts:q} --steps {params.spec[steps]}"
        " --seed {params.spec[seed]} --threads {threads} --output {output:q} > {log:q} 2>&1"


if "demo" in config:

    rule demo:
        """The demo's targets: its figures and tables with their statistics, per-shard curves and lucky-guess pages."""
        input:
            dag.demo_targets(config),
