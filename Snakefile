# rlvr-boundary: prepare -> sample (GPU) -> verify (CPU) -> counts -> pass@k -> figures.
# `snakemake figures/fig2.pdf` rebuilds one figure; see README.md for the reviewer's path.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/import.smk"
include: "workflow/rules/verify.smk"
include: "workflow/rules/passk.smk"
include: "workflow/rules/filter.smk"
include: "workflow/rules/entropy.smk"
include: "workflow/rules/score.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/figures.smk"


report: "workflow/report/workflow.rst"


rule all:
    """Every figure and table, each pass@k figure's statistics, per-shard curves, lucky-guess pages."""
    input:
        dag.all_targets(config),
