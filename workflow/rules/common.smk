# Config validation, wildcard constraints and the rules' one-call input/params helpers;
# the logic behind them lives in rlvr_boundary.dag (testable without Snakemake).
from snakemake.exceptions import WorkflowError

from rlvr_boundary import config as rb_config
from rlvr_boundary import dag, jobs, specs

try:
    rb_config.validate(config, "config (config.yaml + --configfile overlays)")
except rb_config.ConfigError as error:
    raise WorkflowError(str(error)) from None

NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"


def one_of(names):
    """A wildcard matching only configured names (figures/*.csv holds figures and tables)."""
    return "|".join(sorted(names)) or "(?!)"


wildcard_constraints:
    model=NAME,
    benchmark=NAME,
    grader=one_of(rb_config.MATH_GRADERS),
    figure=one_of(dag.figures_of_kind(config, "passk")),
    histogram=one_of(dag.figures_of_kind(config, "histogram")),
    entropy_figure=one_of(dag.figures_of_kind(config, "entropy")),
    perplexity_figure=one_of(dag.figures_of_kind(config, "perplexity")),
    table=one_of(dag.tables_of_kind(config, "solvable")),
    boundary_table=one_of(dag.tables_of_kind(config, "boundary")),
    training_figure=one_of(dag.figures_of_kind(config, "training")),
    seed=r"\d+",
    run=NAME,
    name=NAME,


def spec_json(build):
    """A params function: the job's spec, built by ``build(wildcards)``, as canonical JSON."""
    return lambda wildcards: specs.to_json(build(wildcards))
