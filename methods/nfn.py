"""NFN: neural functionals over an INR zoo (Zhou et al. 2023, "Permutation Equivariant
Neural Functionals").

`network=authors`, the default, is the authors' SIREN classifier (wsbench.models.nfn_classifier,
checked function for function against their code by crosscheck/nfn.py): random Fourier
features of every raw weight, HNP layers with ReLUs, HNP pooling and an MLP head with dropout,
trained by Adam with a linear warm-up to a constant rate. `network=wsbench`, wsbench's earlier
NFN (NP or HNP layers on standardised weights, batch norm, AdamW with a cosine schedule),
stays as an option because it reads higher on validation at the quick budget; it is the
parameters' legacy value: the runs recorded before the choice existed are its runs.
"""
from wsbench.api import NFN, NFNClassifier, Optimisation, Param, UserError, ZooMethod, parse_widths


class NFNMethod(ZooMethod):
    name = "nfn"
    description = "neural functional (HNP layers; the authors' classifier or wsbench's) on fitted SIRENs " \
                  "(Zhou et al. 2023)"
    model_params = {
        "network": Param("authors", "authors: their classifier and recipe; wsbench: wsbench's NP/HNP network",
                         choices=("authors", "wsbench"), legacy="wsbench"),
        "mode": Param("hnp", "wsbench: hnp (input and output neurons not permuted) or np (all permuted)",
                      choices=("hnp", "np")),
        "channels": Param(32, "channels of each equivariant layer", low=1),
        "layers": Param(3, "equivariant layers", low=1),
        "fourier": Param(16, "Fourier frequencies per weight", low=1),
        "fourier_scale": Param(10.0, "std of the Fourier frequencies", above=0, legacy=10.0, when=("network", "authors")),
        "batch_norm": Param(True, "batch norm after every equivariant layer (DWSNet's default)", when=("network", "wsbench")),
        "head_hidden": Param("256,256", "hidden widths of the invariant head's MLP", widths=True),
        "dropout": Param(0.5, "dropout after each hidden layer of the head", low=0, high=0.99, legacy=0.5,
                         when=("network", "authors")),
        "warmup_steps": Param(300, "steps of the rate's linear warm-up from 0", low=1, legacy=300, when=("network", "authors")),
    }
    profiles = {
        # The authors' network at the quick width: 3 HNP layers of 32 channels, Adam 1e-3 without weight
        # decay, a warm-up over 5% of the run's steps (the authors' 10,000 of 200,000: 313 of MNIST's
        # 6,260), the Fourier scale chosen on validation per data set (docs/notebook.md).
        "quick": {"epochs": 20, "layers": 3, "lr": 1e-3, "weight_decay": 0.0, "warmup_steps": 313,
                  "fourier_scale": 10.0},
        "quick@digits": {"warmup_steps": 19, "fourier_scale": 30.0},
        "quick@modelnet40": {"warmup_steps": 139},
        # AllanYangZhou/nfn@ce78322 experiments/classify_siren_configs (main.yaml, nfnet/inv_ff.yaml,
        # opt/adam.yaml, setup/mnist.yaml): HNP, 3 layers of 512, 128 Fourier frequencies of scale 10, head
        # 1000-1000 with dropout 0.5, Adam 1e-4 after a 10,000-step warm-up, batch 32, 200k steps (12 epochs of
        # 10 views), standard SIRENs refitted 10 times per image.
        "paper": {"inr_views": 10, "epochs": 12, "batch_size": 32, "lr": 1e-4, "weight_decay": 0.0,
                  "network": "authors", "channels": 512, "layers": 3, "fourier": 128, "fourier_scale": 10.0,
                  "head_hidden": "1000,1000", "dropout": 0.5, "warmup_steps": 10000},
        "smoke": {"epochs": 2, "inr_steps": 20, "channels": 4, "layers": 2, "fourier": 4, "head_hidden": "16",
                  "warmup_steps": 5},
    }

    def build(self, layout, num_classes, params):
        if params["network"] == "authors":
            if params["mode"] != "hnp":
                raise UserError(f"--param mode={params['mode']}: the authors' classifier is HNP; "
                                f"NP layers are network=wsbench's")
            return NFNClassifier(layout, num_classes, channels=(params["channels"],) * params["layers"],
                                 fourier=params["fourier"], fourier_scale=params["fourier_scale"],
                                 head_hidden=parse_widths(params["head_hidden"]), dropout=params["dropout"])
        return NFN(layout, num_classes, mode=params["mode"], channels=params["channels"], layers=params["layers"],
                   fourier=params["fourier"], head_hidden=parse_widths(params["head_hidden"]),
                   batch_norm=params["batch_norm"])

    def authors_optimisation(self, p):
        """Adam, the rate rising linearly from 0 over the warm-up, then constant."""
        return Optimisation(p["lr"], p["weight_decay"], optimiser="adam", schedule="warmup",
                            warmup_steps=p["warmup_steps"], warmup_start=0)
