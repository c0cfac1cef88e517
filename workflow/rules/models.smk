# Model weights for cluster runs. With `model_cache` set in config.yaml (a folder on
# storage every node sees), each hub model is downloaded once, at its pinned revision, by a
# local rule on the login node (compute nodes often have no internet, and fifty sampling
# jobs must not all pull 60 GB from the hub at once); sampling jobs then load the
# published folder with the hub offline. Without `model_cache` nothing here is defined
# and every sampling job loads its model from the hub itself.
import os
import re

# The sample rule's weights input for a hub model is rlvr_boundary.hub.published_dir(config,
# model): this rule's output when model_cache is set, None otherwise.
HUB_MODELS = [name for name, spec in config["models"].items() if "hf_id" in spec]


if config.get("model_cache") and HUB_MODELS:

    localrules:
        download_model,

    rule download_model:
        """One hub model at its configured revision, published in the shared model cache."""
        output:
            directory(f"{config['model_cache']}/{{model}}"),
        log:
            "logs/download_model/{model}.log",
        wildcard_constraints:
            model="|".join(re.escape(name) for name in HUB_MODELS),
        conda:
            "../../envs/sampling.yaml"
        params:
            hf_id=lambda w: config["models"][w.model]["hf_id"],
            revision=lambda w: config["models"][w.model]["revision"],
            cache=lambda w, output: os.path.dirname(output[0]),
        shell:
            "python -m rlvr_boundary download-model --hf-id {params.hf_id:q} --revision {params.revision:q}"
            " --cache-dir {params.cache:q} --dest {output:q} > {log:q} 2>&1"
