"""ScaleGMN: a graph metanetwork equivariant to hidden-neuron permutations and sign flips
(Kalogeropoulos et al., NeurIPS 2024; bidirectional, as ScaleGMN-B), over an INR zoo.

The zoo, training loop and checkpoints are wsbench.zoo.method's; the weights are scaled per
tensor without centring, so that a sign flip of the input stays a sign flip (see the README)."""
from wsbench.api import (DWSNET_SET, GRAPH_PARAMS, GRAPH_SMOKE, QUICK_UDF_ZOO, QUICK_ZOO, ZooMethod, on_shapes,
                         parse_widths)


class ScaleGMNMethod(ZooMethod):
    name = "scalegmn"
    description = "sign- and permutation-equivariant graph metanetwork on fitted SIRENs (Kalogeropoulos et al. 2024)"
    version = 2  # 2: dense message passing, the same function; float32 sums run in another order
    centre = False
    model_params = GRAPH_PARAMS
    profiles = {
        # lr and batch chosen on validation (5-epoch probes, README); epochs sized to 30 minutes on 2 cores
        "quick": {**QUICK_ZOO, "epochs": 40, "lr": 3e-3, "batch_size": 32},
        **on_shapes(QUICK_UDF_ZOO),
        "paper": {**DWSNET_SET, "epochs": 150, "batch_size": 128, "hidden": 64, "layers": 4},
        "smoke": GRAPH_SMOKE,
    }

    def build(self, layout, num_classes, params):
        from wsbench.models.scalegmn import ScaleGMN  # torch-geometric takes 1.5 s to import: only when used
        return ScaleGMN(layout, num_classes, hidden=params["hidden"], layers=params["layers"],
                        head_hidden=parse_widths(params["head_hidden"]))
