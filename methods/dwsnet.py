"""DWSNet: deep-weight-space equivariant layers and an invariant head over an INR zoo.

Navon et al. (2023), "Equivariant Architectures for Learning in Deep Weight
Spaces". The zoo, normalisation and training loop are wsbench.zoo.method's.
"""
from wsbench.api import DWSNet, Param, ZooMethod, parse_widths


class DWSNetMethod(ZooMethod):
    name = "dwsnet"
    description = "DWSNet equivariant network on independently fitted SIRENs (Navon et al. 2023)"
    model_params = {
        "channels": Param(32, "channels of the equivariant layers", low=1),
        "layers": Param(4, "equivariant layers", low=1),
        "batch_norm": Param(True, "batch norm after every equivariant layer (DWSNet's default)"),
        "head_hidden": Param("128", "hidden widths of the invariant head's MLP", widths=True),
    }
    profiles = {
        "quick": {"epochs": 15},
        # AvivNavon/DWSNets@2001d52 experiments/mnist/trainer.py defaults (--model dwsnet): 100 epochs, batch
        # 512, AdamW 5e-3, weight decay 5e-4, 32 channels, 5 equivariant layers, a linear invariant head.
        # Not expressible here: amsgrad and a constant rate (wsbench: cosine), max pooling and the SAB set
        # layers, no batch norm after the last layer, their weight augmentations, per-entry statistics.
        "paper": {**ZooMethod.DWSNET_SET, "epochs": 100, "batch_size": 512, "lr": 5e-3, "weight_decay": 5e-4,
                  "channels": 32, "layers": 5, "head_hidden": ""},
        "smoke": {"epochs": 2, "inr_steps": 20, "channels": 4, "layers": 2, "head_hidden": "16"},
    }

    def build(self, layout, num_classes, params):
        return DWSNet(layout, num_classes, channels=params["channels"], layers=params["layers"],
                      head_hidden=parse_widths(params["head_hidden"]), batch_norm=params["batch_norm"])
