"""ScaleGMN: a graph metanetwork equivariant to hidden-neuron permutations and sign flips
(Kalogeropoulos et al., NeurIPS 2024; bidirectional, as ScaleGMN-B), over an INR zoo.

The zoo, training loop and checkpoints are wsbench.zoo.method's; the weights are scaled per
tensor without centring, so that a sign flip of the input stays a sign flip (see the README)."""
from wsbench.api import DWSNET_SET, QUICK_ZOO, Param, ZooMethod, parse_widths


class ScaleGMNMethod(ZooMethod):
    name = "scalegmn"
    description = "sign- and permutation-equivariant graph metanetwork on fitted SIRENs (Kalogeropoulos et al. 2024)"
    centre = False
    model_params = {
        "hidden": Param(32, "node and edge feature width", low=1),
        "layers": Param(3, "message-passing layers", low=1),
        "head_hidden": Param("128", "hidden widths of the pooled head's MLP", widths=True),
    }
    profiles = {
        "quick": {**QUICK_ZOO, "epochs": 10},
        "paper": {**DWSNET_SET, "epochs": 150, "batch_size": 128, "hidden": 64, "layers": 4},
        "smoke": {"epochs": 2, "inr_steps": 20, "hidden": 8, "layers": 2, "head_hidden": "16"},
    }

    def build(self, layout, num_classes, params):
        from wsbench.models.scalegmn import ScaleGMN  # torch-geometric takes 1.5 s to import: only when used
        return ScaleGMN(layout, num_classes, hidden=params["hidden"], layers=params["layers"],
                        head_hidden=parse_widths(params["head_hidden"]))
