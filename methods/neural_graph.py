"""Neural graph: the INR as a graph (neurons as nodes with bias features and positional
embeddings, weights as edge features updated every layer) and PNA message passing from
torch-geometric, as Kofinas et al. (ICLR 2024) built NG-GNN."""
from wsbench.api import DWSNET_SET, QUICK_ZOO, Param, ZooMethod, parse_widths


class NeuralGraphMethod(ZooMethod):
    name = "neural-graph"
    version = 2  # 2: PNA layers with edge updates, as Kofinas et al. built it
    description = "message passing on the graph of each fitted SIREN's neurons (torch-geometric)"
    model_params = {
        "hidden": Param(32, "node and edge feature width", low=1),
        "layers": Param(3, "message-passing layers", low=1),
        "head_hidden": Param("128", "hidden widths of the pooled head's MLP", widths=True),
    }
    profiles = {
        "quick": {**QUICK_ZOO, "epochs": 10},
        "paper": {**DWSNET_SET, "epochs": 100, "batch_size": 128, "hidden": 64, "layers": 4},
        "smoke": {"epochs": 2, "inr_steps": 20, "hidden": 8, "layers": 2, "head_hidden": "16"},
    }

    def build(self, layout, num_classes, params):
        from wsbench.models.graph import NeuralGraph  # torch-geometric takes 1.5 s to import: only when used
        return NeuralGraph(layout, num_classes, hidden=params["hidden"], layers=params["layers"],
                           head_hidden=parse_widths(params["head_hidden"]))
