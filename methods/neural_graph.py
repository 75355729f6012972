"""Neural graph: the INR as a graph (neurons as nodes with bias features and positional
embeddings, weights as edge features updated every layer) and PNA message passing (Kofinas et
al., ICLR 2024, NG-GNN).

`network=authors`, the default, is the authors' PNA for INR classification
(wsbench.models.neural_graph_pna, checked function for function against their code by
crosscheck/neural_graph.py): Fourier features of every weight and bias, a state per edge
direction, messages modulated by the edge, graph-wide layer norm, dropout, a readout of the
output neurons, on weights standardised per tensor, trained with AMSGrad AdamW, a linear
warm-up to a constant rate and gradient clipping. `network=wsbench`, the parameter's legacy
value, is wsbench's network (torch-geometric's PNAConv written densely:
wsbench.models.graph); it stays as an option because it reads higher on validation at the
quick budget.
"""
from wsbench.api import NeuralGraph, NeuralGraphPNA, Optimisation, Param, ZooMethod, parse_widths


class NeuralGraphMethod(ZooMethod):
    name = "neural-graph"
    # 2: PNA layers with edge updates, as Kofinas et al. built it; 3: the same, dense;
    # 4: the same, its edge maps summed in another order (float32 rounding); 5: one state per
    # edge, read by the messages of both directions (a state per direction before: 1.6x slower)
    version = 5
    description = "PNA message passing on the graph of each fitted SIREN's neurons (Kofinas et al. 2024)"
    authors_standardise = True  # their graph constructor standardises each weight matrix and bias vector
    model_params = {
        "network": Param("authors", "authors: their PNA and recipe; wsbench: wsbench's network",
                         choices=("authors", "wsbench"), legacy="wsbench"),
        "hidden": Param(32, "node and edge feature width", low=1),
        "layers": Param(3, "message-passing layers", low=1),
        "head_hidden": Param("128", "hidden widths of the pooled head's MLP", widths=True, when=("network", "wsbench")),
        "dropout": Param(0.2, "dropout on the node states after each layer", low=0, high=0.99, legacy=0.2,
                         when=("network", "authors")),
        "fourier": Param(128, "random Fourier features of each weight and bias", low=1, legacy=128, when=("network", "authors")),
        "fourier_scale": Param(3.0, "std of the Fourier frequencies", above=0, legacy=3.0, when=("network", "authors")),
        "amsgrad": Param(True, "AdamW's AMSGrad variant", legacy=True, when=("network", "authors")),
        "clip_norm": Param(10.0, "the gradient's total norm is clipped to this (0: no clipping)", low=0,
                           legacy=10.0, when=("network", "authors")),
        "warmup_steps": Param(1000, "steps of the rate's linear warm-up, then constant", low=1,
                              legacy=1000, when=("network", "authors")),
    }
    profiles = {
        # epochs sized to about 30 minutes on 2 CPU cores; the authors' rate and warm-up, chosen on
        # validation over 3e-3 and 1e-2 with 100 warm-up steps (docs/notebook.md): 19 epochs on digits,
        # 12 on MNIST and Fashion-MNIST's 20,000 INRs, 28 on ModelNet40's 8,843.
        "quick": {"epochs": 19},
        "quick@mnist": {"epochs": 12},
        "quick@fashion-mnist": {"epochs": 12},
        "quick@pointcloud": {"epochs": 28},
        # mkofinas/neural-graphs@1f2b671 experiments/inr_classification (base.yaml, model/pna.yaml,
        # data/mnist.yaml, scripts/mnist_cls_pna.sh): their PNA, width 32, 4 layers, dropout 0.2, 128 Fourier
        # features of scale 3, their augmentation of the training INRs, 200 epochs, batch 128, AdamW (AMSGrad)
        # 1e-3 with weight decay 5e-4 after 1,000 warm-up steps, gradients clipped at norm 10.
        "paper": {**ZooMethod.DWSNET_SET, "network": "authors", "epochs": 200, "batch_size": 128, "lr": 1e-3,
                  "weight_decay": 5e-4, "amsgrad": True, "warmup_steps": 1000, "clip_norm": 10.0, "hidden": 32,
                  "layers": 4, "dropout": 0.2, "fourier": 128, "fourier_scale": 3.0, "augment": "kofinas"},
        "smoke": {"epochs": 2, "inr_steps": 20, "hidden": 8, "layers": 2, "head_hidden": "16"},
    }

    def build(self, layout, num_classes, params):
        if params["network"] == "authors":
            return NeuralGraphPNA(layout, num_classes, hidden=params["hidden"], layers=params["layers"],
                                  dropout=params["dropout"], fourier_features=params["fourier"],
                                  fourier_scale=params["fourier_scale"])
        return NeuralGraph(layout, num_classes, hidden=params["hidden"], layers=params["layers"],
                           head_hidden=parse_widths(params["head_hidden"]))

    def authors_optimisation(self, p):
        """AdamW (AMSGrad), the rate rising linearly over the warm-up then constant, gradient clipping."""
        return Optimisation(p["lr"], p["weight_decay"], optimiser="adamw", amsgrad=p["amsgrad"], schedule="warmup",
                            warmup_steps=p["warmup_steps"], warmup_start=1, clip_norm=p["clip_norm"])
