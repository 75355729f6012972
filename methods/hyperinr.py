"""HyperINR: a hypernetwork maps a per-sample latent z to all weights w of a SIREN.

Qiu, Sonis, Shen (2026), arXiv 2601.23181: an auto-decoder with one learnable
latent per training sample and a shared hypernetwork, trained on the
reconstruction loss; validation and test latents are fitted with the hypernetwork
frozen. Two heads are scored: an MLP on z and an MLP on the generated weights w.

`encoder=true` gives Egri's variant instead: a CNN encoder maps the image to z,
optionally trained with a classification loss of weight `cls_weight`.
"""
from __future__ import annotations

import torch
from torch import nn

from wsbench.api import (ConvEncoder, DataSplits, Field, HyperNetwork, Loop, Method, MethodOutput, Param,
                         Reconstruction, RunContext, generate, mlp, parse_widths, random_queries, require_compiler,
                         siren_layout, split_fields, stage_result, train_feature_head)


def fit_latents(hyper: HyperNetwork, field: Field, init: torch.Tensor, p: dict, ctx: RunContext,
                desc: str) -> torch.Tensor:
    """Fit one latent per sample with the hypernetwork frozen (the auto-decoder's inference)."""
    hyper.requires_grad_(False)
    gen = torch.Generator().manual_seed(ctx.seed + 1)
    out = []
    bar = ctx.progress(total=len(field), desc=desc, unit="sample")
    for chunk in field.split(p["fit_chunk"]):
        chunk = chunk.to(ctx.device)
        z = init.expand(len(chunk), -1).clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=p["fit_lr"])
        for _ in range(p["fit_steps"]):
            queries = random_queries(field.num_queries, p["query_fraction"], gen, ctx.device)
            loss = hyper.loss(z, chunk, queries).sum() + p["latent_reg"] * z.pow(2).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        out.append(z.detach().cpu())
        bar.update(len(chunk))
    bar.close()
    hyper.requires_grad_(True)
    return torch.cat(out)


ENCODE_BATCH = 512  # images per encoder pass when embedding the splits (memory only)

# Shapes: a wider latent and hypernetwork (SIREN 3-32-32-1, 1,217 weights), 1,000 of
# the 4,000 UDF queries per step, 60 epochs (chosen on test in an earlier version; re-tuned
# on validation; docs/notebook.md has the runs).
UDF_QUICK = {"latent_dim": 128, "hyper_hidden": "256,256", "epochs": 60}


class HyperINR(Method):
    name = "hyperinr"
    description = "Hypernetwork from a per-sample latent to SIREN weights; MLP heads on z and on w"
    modalities = ("image", "pointcloud")
    params = {
        "latent_dim": Param(64, "size of the per-sample latent z", low=1),
        "hyper_hidden": Param("128", "hidden widths of the hypernetwork, comma separated", widths=True),
        "siren_hidden": Param("32,32", "hidden widths of the generated SIREN", widths=True),
        "w0": Param(30.0, "SIREN frequency", above=0),
        "epochs": Param(15, "passes over the training set for the hypernetwork", low=1),
        "batch_size": Param(128, "samples per hypernetwork step", low=1),
        "lr": Param(1e-3, "Adam learning rate of the hypernetwork", above=0),
        "latent_lr": Param(1e-2, "learning rate of the training latents", above=0),
        "latent_reg": Param(1e-4, "weight of ||z||^2, in training and in latent fitting", low=0),
        "query_fraction": Param(0.25, "fraction of the pixels (or UDF queries) sampled per step", above=0, high=1),
        "fit_steps": Param(100, "Adam steps to fit a validation or test latent", low=1),
        "fit_lr": Param(1e-2, "learning rate of latent fitting", above=0),
        "fit_chunk": Param(128, "samples fitted together", low=1),
        "refit_train": Param(True, "train the heads on train latents re-fitted like the test ones"),
        "compile": Param(False, "run the generated INRs' loss as one torch.compile program in training and latent "
                                "fitting (fused sines; not bit-identical; needs a C++ compiler on a CPU)",
                         legacy=False),
        "encoder": Param(False, "Egri's variant: a CNN encoder maps the image to z"),
        "cls_weight": Param(0.0, "encoder variant: weight of a classification loss on z", low=0),
        "head_hidden": Param("512,512", "hidden widths of the MLP heads", widths=True),
        "head_epochs": Param(60, "epochs of the MLP heads", low=1),
        "head_lr": Param(1e-3, "learning rate of the MLP heads", above=0),
        "head_dropout": Param(0.2, "dropout of the MLP heads", low=0, high=0.99),
    }
    profiles = {
        "quick": {},
        "quick@pointcloud": UDF_QUICK,
        "quick@digits": {"latent_dim": 32, "hyper_hidden": "64", "epochs": 60, "query_fraction": 1.0},
        "smoke": {"latent_dim": 8, "hyper_hidden": "16", "siren_hidden": "8", "epochs": 3, "fit_steps": 5,
                  "head_hidden": "32", "head_epochs": 3},
        # Qiu, Sonis and Shen (2026, arXiv 2601.23181) published no code and their text gives no settings
        # beyond a hypernetwork of about 1M parameters: this is wsbench's GPU-sized choice at that size.
        "paper": {"latent_dim": 128, "hyper_hidden": "512,512", "epochs": 200, "fit_steps": 500,
                  "query_fraction": 1.0, "fit_chunk": 1024, "head_epochs": 100, "refit_train": False},
    }

    def unsupported(self, modality: str, params: dict) -> str | None:
        if params["encoder"] and modality != "image":
            return "the encoder variant is a CNN over images; use encoder=false for shapes"
        return super().unsupported(modality, params)

    def run(self, data: DataSplits, params: dict, ctx: RunContext) -> MethodOutput:
        p, device = params, ctx.device
        fields = split_fields(data)
        layout = siren_layout(data, parse_widths(p["siren_hidden"]), p["w0"])
        hyper = HyperNetwork(p["latent_dim"], parse_widths(p["hyper_hidden"]), layout).to(device)
        if p["compile"]:
            require_compiler(device, "--param compile=false")
            hyper.compile_loss()
        num_params = {"hypernetwork": sum(q.numel() for q in hyper.parameters()), "inr": layout.num_params}

        if p["encoder"]:
            z = self._train_encoder(hyper, data, fields["train"], p, ctx)
        else:
            with ctx.stage("train_hypernetwork"):
                z_train = self._train_autodecoder(hyper, fields["train"], p, ctx)
            init = z_train.mean(0).to(device)
            z = {}
            with ctx.stage("fit_latents"):
                for split in ("val", "test") + (("train",) if p["refit_train"] else ()):
                    z[split] = stage_result(ctx, f"latents_{split}", lambda split=split: fit_latents(
                        hyper, fields[split], init, p, ctx, f"fit {split} latents"))
            z.setdefault("train", z_train)

        weights = {s: generate(hyper, z[s], device) for s in z}
        heads = {}
        with ctx.stage("train_heads"):
            for head, feats in (("z", z), ("w", weights)):
                heads[head] = train_feature_head(
                    feats["train"], data.train.y, feats["val"], feats["test"], data.num_classes, ctx,
                    hidden=p["head_hidden"], epochs=p["head_epochs"], lr=p["head_lr"],
                    dropout=p["head_dropout"], name=f"head_{head}", desc=f"head {head}")
        return MethodOutput(heads=heads, num_params=num_params,
                            reconstruction=Reconstruction(layout, weights["test"]))

    def _train_autodecoder(self, hyper: HyperNetwork, field: Field, p: dict, ctx: RunContext) -> torch.Tensor:
        n, device = len(field), ctx.device
        latents = nn.Embedding(n, p["latent_dim"], sparse=True).to(device)
        nn.init.normal_(latents.weight, std=0.01)
        opt_h = torch.optim.Adam(hyper.parameters(), lr=p["lr"])
        opt_z = torch.optim.SparseAdam(latents.parameters(), lr=p["latent_lr"])
        gen = torch.Generator().manual_seed(ctx.seed)
        steps_per_epoch = -(-n // p["batch_size"])
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt_h, T_max=p["epochs"] * steps_per_epoch)

        def epoch(_: int) -> dict[str, float]:
            for idx in torch.randperm(n, generator=gen).split(p["batch_size"]):
                queries = random_queries(field.num_queries, p["query_fraction"], gen, device)
                z = latents(idx.to(device))
                loss = hyper.loss(z, field.take(idx).to(device), queries).mean()
                loss = loss + p["latent_reg"] * z.pow(2).sum(1).mean()
                opt_h.zero_grad(set_to_none=True)
                opt_z.zero_grad(set_to_none=True)
                loss.backward()
                opt_h.step()
                opt_z.step()
                sched.step()
            return {"loss": loss.item()}

        Loop(ctx, "autodecoder", p["epochs"], {"hyper": hyper, "latents": latents, "opt_h": opt_h, "opt_z": opt_z,
                                               "sched": sched, "gen": gen}, desc="train hypernetwork").run(epoch)
        return latents.weight.detach().cpu()

    def _train_encoder(self, hyper: HyperNetwork, data: DataSplits, field: Field, p: dict,
                       ctx: RunContext) -> dict[str, torch.Tensor]:
        device, n = ctx.device, len(data.train)
        encoder = ConvEncoder(data.train.x.shape[-1], p["latent_dim"]).to(device)
        cls = mlp(p["latent_dim"], (256,), data.num_classes).to(device)
        params = list(hyper.parameters()) + list(encoder.parameters()) + list(cls.parameters())
        opt = torch.optim.Adam(params, lr=p["lr"])
        gen = torch.Generator().manual_seed(ctx.seed)

        def epoch(_: int) -> dict[str, float]:
            encoder.train()
            for idx in torch.randperm(n, generator=gen).split(p["batch_size"]):
                queries = random_queries(field.num_queries, p["query_fraction"], gen, device)
                z = encoder(data.train.x[idx].to(device))
                loss = hyper.loss(z, field.take(idx).to(device), queries).mean()
                loss = loss + p["latent_reg"] * z.pow(2).sum(1).mean()
                if p["cls_weight"] > 0:
                    loss = loss + p["cls_weight"] * nn.functional.cross_entropy(cls(z), data.train.y[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            return {"loss": loss.item()}

        with ctx.stage("train_encoder"):
            Loop(ctx, "encoder", p["epochs"], {"hyper": hyper, "encoder": encoder, "cls": cls, "opt": opt, "gen": gen},
                 desc="train encoder").run(epoch)
        encoder.eval()
        with torch.no_grad():
            return {s: torch.cat([encoder(x.to(device)).cpu() for x in split.x.split(ENCODE_BATCH)])
                    for s, split in (("train", data.train), ("val", data.val), ("test", data.test))}
