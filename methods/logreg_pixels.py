"""Reference baseline, not weight-space: multinomial logistic regression on the pixels.

It tells a reader what a linear model on the signal itself reaches on the same splits,
the floor a weight-space method has to clear to be worth its INRs."""
from __future__ import annotations

import numpy as np

from wsbench.api import DataSplits, HeadResult, Method, MethodOutput, Param, RunContext


class LogRegPixels(Method):
    name = "logreg-pixels"
    description = "baseline on the signal: logistic regression on standardised pixels (scikit-learn)"
    weight_space = False
    params = {
        "C": Param(1.0, "inverse L2 strength (scikit-learn's C)", above=0),
        "max_iter": Param(200, "L-BFGS iterations", low=1),
    }
    # paper: no published configuration (a wsbench baseline); its defaults
    profiles = {"quick": {}, "paper": {}, "smoke": {"max_iter": 20}}

    def run(self, data: DataSplits, params: dict, ctx: RunContext) -> MethodOutput:
        from sklearn.linear_model import LogisticRegression  # scikit-learn takes 1 s to import: only when used
        from sklearn.preprocessing import StandardScaler
        x = {name: split.x.flatten(1).numpy() for name, split in
             (("train", data.train), ("val", data.val), ("test", data.test))}
        scaler = StandardScaler().fit(x["train"])
        with ctx.stage("fit"):
            model = LogisticRegression(C=params["C"], max_iter=params["max_iter"], random_state=ctx.seed)
            model.fit(scaler.transform(x["train"]), data.train.y.numpy())
        predict = lambda split: model.predict(scaler.transform(x[split])).astype(np.int64)  # noqa: E731
        head = HeadResult([predict("val")], [predict("test")], num_params=model.coef_.size + model.intercept_.size)
        return MethodOutput(heads={"pixels": head}, num_params={"linear": head.num_params})
