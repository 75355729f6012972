"""The symmetry-blind baseline: an MLP on each fitted SIREN's flattened weights."""
from wsbench.api import FlatMLP, Param, ZooMethod, parse_widths


class FlatMLPMethod(ZooMethod):
    name = "flat-mlp"
    description = "MLP on the flattened weights of independently fitted SIRENs (no symmetry)"
    model_params = {"hidden": Param("256,256", "hidden widths of the MLP", widths=True)}
    profiles = {
        "quick": {"epochs": 10},
        # AvivNavon/DWSNets@2001d52 experiments/mnist/trainer.py --model mlp (nn/models.py MLPModel): five hidden
        # layers of 32, trained as DWSNet (100 epochs, batch 512, AdamW 5e-3, weight decay 5e-4). Not
        # expressible here: batch norm on hidden layers 2-5, amsgrad, a constant rate, their augmentations.
        "paper": {**ZooMethod.DWSNET_SET, "epochs": 100, "batch_size": 512, "lr": 5e-3, "weight_decay": 5e-4,
                  "hidden": "32,32,32,32,32"},
        "smoke": {"epochs": 2, "inr_steps": 20, "hidden": "16"},
    }

    def build(self, layout, num_classes, params):
        return FlatMLP(layout, num_classes, hidden=parse_widths(params["hidden"]))
