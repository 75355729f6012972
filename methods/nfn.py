"""NFN: neural functionals with NP or HNP equivariant layers over an INR zoo.

Zhou et al. (2023), "Permutation Equivariant Neural Functionals": Fourier
features of every weight, equivariant layers, invariant pooling, an MLP head.
"""
from wsbench.api import NFN, Param, ZooMethod, parse_widths


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
        "quick": {"epochs": 20, "layers": 4},
        # AllanYangZhou/nfn@ce78322 experiments/classify_siren_configs (main.yaml, nfnet/inv_ff.yaml,
        # opt/adam.yaml, setup/mnist.yaml): HNP, 3 layers of 512, 128 Fourier frequencies, head 1000-1000, Adam
        # 1e-4, batch 32, 200k steps (12 epochs of 10 views), standard SIRENs refitted 10 times per image. Not
        # expressible here: the authors' network (reproduced apart in wsbench.models.nfn_classifier,
        # crosscheck/nfn.py) with raw weights and frequencies N(0, 10^2) x 2 pi, head dropout 0.5, warm-up.
        "paper": {"inr_views": 10, "epochs": 12, "batch_size": 32, "lr": 1e-4, "weight_decay": 0.0, "mode": "hnp",
                  "channels": 512, "layers": 3, "fourier": 128, "batch_norm": False, "head_hidden": "1000,1000"},
        "smoke": {"epochs": 2, "inr_steps": 20, "channels": 4, "layers": 2, "fourier": 4, "head_hidden": "16"},
    }

    def build(self, layout, num_classes, params):
        return NFN(layout, num_classes, mode=params["mode"], channels=params["channels"], layers=params["layers"],
                   fourier=params["fourier"], head_hidden=parse_widths(params["head_hidden"]),
                   batch_norm=params["batch_norm"])
