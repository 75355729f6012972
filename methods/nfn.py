"""NFN: neural functionals with NP or HNP equivariant layers over an INR zoo.

Zhou et al. (2023), "Permutation Equivariant Neural Functionals": Fourier
features of every weight, equivariant layers, invariant pooling, an MLP head.
"""
from wsbench.api import DWSNET_SET, QUICK_UDF_ZOO, QUICK_ZOO, Param, ZooMethod, on_shapes, parse_widths
from wsbench.models.nfn import NFN


class NFNMethod(ZooMethod):
    name = "nfn"
    description = "neural functional (NP or HNP layers) on independently fitted SIRENs (Zhou et al. 2023)"
    model_params = {
        "mode": Param("hnp", "hnp: input and output neurons not permuted; np: all neurons permuted",
                      choices=("hnp", "np")),
        "channels": Param(32, "channels of the equivariant layers", low=1),
        "layers": Param(3, "equivariant layers", low=1),
        "fourier": Param(16, "Fourier frequencies per weight", low=1),
        "batch_norm": Param(True, "batch norm after every equivariant layer (DWSNet's default)"),
        "head_hidden": Param("256,256", "hidden widths of the invariant head's MLP", widths=True),
    }
    profiles = {
        "quick": {**QUICK_ZOO, "epochs": 20, "layers": 4},
        **on_shapes(QUICK_UDF_ZOO),
        "paper": {**DWSNET_SET, "inr_views": 10, "epochs": 12, "batch_size": 32},
        "smoke": {"epochs": 2, "inr_steps": 20, "channels": 4, "layers": 2, "fourier": 4, "head_hidden": "16"},
    }

    def build(self, layout, num_classes, params):
        return NFN(layout, num_classes, mode=params["mode"], channels=params["channels"], layers=params["layers"],
                   fourier=params["fourier"], head_hidden=parse_widths(params["head_hidden"]),
                   batch_norm=params["batch_norm"])
