"""MWT: INR fitting and classification learned end to end (Gielisse & van Gemert, CVPR 2025).

A meta-learned SIREN initialisation theta and per-step, per-parameter learning
rates fit each sample in k SGD steps on a random subset of its pixels (or UDF
queries). A standard Transformer whose tokens are the output neurons of every
layer (incoming weights and bias) classifies lambda * (phi - theta + beta), beta
a learned positional bias. The outer loss is the reconstruction loss plus the
classification loss; the latter reaches theta and the rates scaled by w_cls
(w_cls = 0 is the "WT" ablation: the classifier still learns, the fitting does
not hear from it). The method receives the signals, not a zoo: test samples are
fitted with the same k steps, then classified.
"""
from __future__ import annotations

import torch
from torch import nn

from wsbench.api import DataSplits, HeadResult, Method, MethodOutput, Param, Reconstruction
from wsbench.classifier import parse_widths
from wsbench.context import RunContext
from wsbench.inr.fields import Field
from wsbench.inr.meta import inner_sgd, step_batch
from wsbench.inr.siren import SirenLayout, siren_forward


class NeuronTransformer(nn.Module):
    """Tokens: one per output neuron of each layer, its incoming weights and bias,
    embedded by a linear map per layer; mean-pooled Transformer encoder; linear head."""

    def __init__(self, layout: SirenLayout, num_classes: int, lam: float, d_model: int, layers: int, heads: int):
        super().__init__()
        self.layout, self.lam = layout, lam
        self.beta = nn.Parameter(torch.zeros(layout.num_params))
        self.embed = nn.ModuleList(nn.Linear(i + 1, d_model) for _, i in layout.layer_shapes)
        block = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, num_classes))

    def forward(self, delta: torch.Tensor) -> torch.Tensor:
        """delta = phi - theta (B, P) -> logits."""
        layers = self.layout.unflatten(self.lam * (delta + self.beta))
        tokens = torch.cat([embed(torch.cat([w, b.unsqueeze(-1)], -1))
                            for embed, (w, b) in zip(self.embed, layers)], 1)
        return self.out(self.encoder(tokens).mean(1))


class MWTNetwork(nn.Module):
    def __init__(self, layout: SirenLayout, num_classes: int, p: dict):
        super().__init__()
        self.layout = layout
        self.theta = nn.Parameter(layout.init(1)[0])
        self.rates = nn.Parameter(torch.full((p["inner_steps"], layout.num_params), p["inner_lr"]))
        self.classifier = NeuronTransformer(layout, num_classes, p["lam"], p["d_model"], p["layers"], p["heads"])

    def loss(self, phi: torch.Tensor, field: Field, queries: torch.Tensor | None) -> torch.Tensor:
        coords, target = field.at(queries)
        return field.per_sample_loss(siren_forward(self.layout, phi, coords), target)

    def fit(self, field: Field, fraction: float, gen: torch.Generator, create_graph: bool) -> torch.Tensor:
        """phi after the k inner steps from theta, a fresh query subset per step."""
        queries = [field.sample_queries(fraction, gen) for _ in range(len(self.rates))]
        start, rates = self.theta.expand(len(field), -1), self.rates
        if not torch.is_grad_enabled():  # inference: nothing to meta-learn
            start, rates = start.detach(), rates.detach()
        return inner_sgd(start, rates, lambda phi, j: self.loss(phi, field, queries[j]), create_graph)

    def forward(self, field: Field, fraction: float, gen: torch.Generator, w_cls: float,
                create_graph: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample reconstruction loss after fitting and the logits of the fitted INRs."""
        phi = self.fit(field, fraction, gen, create_graph)
        queries = field.sample_queries(fraction, gen)
        delta = phi - self.theta
        delta = delta.detach() + w_cls * (delta - delta.detach())  # value delta; gradient to the fitting x w_cls
        return self.loss(phi, field, queries), self.classifier(delta)


class MWT(Method):
    name = "mwt"
    description = "meta-learned SIREN fitting + neuron-token Transformer, trained end to end (Gielisse 2025)"
    modalities = ("image", "pointcloud")
    params = {
        "hidden": Param("32,32,32", "hidden widths of the SIREN"),
        "inner_steps": Param(3, "k: SGD steps from theta per sample"),
        "inner_lr": Param(0.01, "initial per-step, per-parameter learning rates (meta-learned)"),
        "query_fraction": Param(0.25, "fraction of pixels (or UDF queries) per inner step in training"),
        "fit_query_fraction": Param(1.0, "fraction of pixels (or queries) per inner step when evaluating"),
        "first_order": Param(False, "drop second-order terms of the meta-gradient (less memory)"),
        "lam": Param(500.0, "lambda, the scale of phi - theta + beta"),
        "d_model": Param(64, "Transformer width"),
        "layers": Param(2, "Transformer layers"),
        "heads": Param(4, "attention heads"),
        "w_cls": Param(0.01, "weight of the classification gradient on theta and the rates (0: WT)"),
        "lr": Param(1e-4, "AdamW learning rate of theta"),
        "rates_lr": Param(1e-2, "AdamW learning rate of the inner rates"),
        "cls_lr": Param(1e-3, "AdamW learning rate of the Transformer and beta"),
        "batch_size": Param(32, "samples per outer step"),
        "epochs": Param(2, "passes over the training samples"),
        "evals": Param(4, "evaluations on val and test, evenly spaced over training (model selection)"),
        "fit_chunk": Param(1000, "samples per chunk when evaluating"),
    }
    profiles = {
        "quick": {},
        "paper": {"hidden": "128,128,128", "inner_steps": 5, "batch_size": 16, "epochs": 10, "d_model": 256,
                  "layers": 6, "heads": 8, "query_fraction": 0.5, "evals": 10},
        "smoke": {"hidden": "8,8", "inner_steps": 2, "d_model": 16, "layers": 1, "heads": 2, "batch_size": 16,
                  "evals": 2},
    }

    def run(self, data: DataSplits, params: dict, ctx: RunContext) -> MethodOutput:
        p, device = params, ctx.device
        fields = {s: Field.of(getattr(data, s), data.modality) for s in ("train", "val", "test")}
        f = fields["train"]
        layout = SirenLayout((f.in_dim, *parse_widths(p["hidden"]), f.out_dim))
        net = MWTNetwork(layout, data.num_classes, p).to(device)
        opt = torch.optim.AdamW([{"params": [net.theta], "lr": p["lr"], "weight_decay": 0.0},
                                 {"params": [net.rates], "lr": p["rates_lr"], "weight_decay": 0.0},
                                 {"params": net.classifier.parameters(), "lr": p["cls_lr"]}])
        steps = p["epochs"] * max(1, len(f) // p["batch_size"])
        checkpoints = {round(steps * (e + 1) / p["evals"]) for e in range(p["evals"])}
        result, start = HeadResult([], [], num_params=sum(t.numel() for t in net.classifier.parameters())), 0
        if saved := ctx.load_state("mwt"):
            net.load_state_dict(saved["net"])
            opt.load_state_dict(saved["opt"])
            result, start = saved["result"], saved["step"]
        y = data.train.y.to(device)
        with ctx.stage("train"):
            bar = ctx.progress(total=steps, initial=start, desc="mwt", unit="step")
            for step in range(start, steps):
                idx, gen = step_batch(len(f), p["batch_size"], ctx.seed, step)
                net.train()
                rec, logits = net(f.take(idx).to(device), p["query_fraction"], gen, p["w_cls"],
                                  create_graph=not p["first_order"])
                ce = nn.functional.cross_entropy(logits, y[idx.to(device)])
                opt.zero_grad(set_to_none=True)
                (rec.mean() + ce).backward()
                opt.step()
                bar.update()
                bar.set_postfix(rec=f"{rec.mean().item():.4f}", ce=f"{ce.item():.3f}", refresh=False)
                if step + 1 in checkpoints:
                    result.val_pred.append(self.predict(net, fields["val"], p, ctx))
                    result.test_pred.append(self.predict(net, fields["test"], p, ctx))
                if (step + 1) % 100 == 0 or step + 1 in checkpoints:
                    ctx.save_state("mwt", {"step": step + 1, "net": net.state_dict(), "opt": opt.state_dict(),
                                           "result": result})
            bar.close()
        num_params = {"theta+rates": net.theta.numel() + net.rates.numel(), "classifier": result.num_params}
        return MethodOutput(heads={"phi": result}, num_params=num_params,
                            reconstruction=Reconstruction(layout, self.fitted(net, fields["test"], p, ctx)))

    @staticmethod
    def fitted(net: MWTNetwork, field: Field, p: dict, ctx: RunContext) -> torch.Tensor:
        """phi of every sample after the k inner steps (the same draws at every call)."""
        net.eval()
        gen = torch.Generator().manual_seed(ctx.seed + 1)
        with torch.no_grad():
            return torch.cat([net.fit(chunk.to(ctx.device), p["fit_query_fraction"], gen, create_graph=False).cpu()
                              for chunk in field.split(p["fit_chunk"])])

    @classmethod
    def predict(cls, net: MWTNetwork, field: Field, p: dict, ctx: RunContext):
        """Fit every sample with the k inner steps, then classify it."""
        phi = cls.fitted(net, field, p, ctx)
        with torch.no_grad():
            return torch.cat([net.classifier(part.to(ctx.device) - net.theta).argmax(1).cpu()
                              for part in phi.split(p["fit_chunk"])]).numpy()
