"""The plugin API: the one import path for method and data-set files, kept stable while
the package behind it moves. Write plugins against these names only.

    from wsbench.api import Method, MethodOutput, Param, train_feature_head
"""
from wsbench.core.context import RunContext
from wsbench.core.contracts import (SHAPE_BOUND, DataSplits, Dataset, HeadResult, HeldOutSplit,
                                    Method, MethodOutput, Reconstruction, Split)
from wsbench.core.errors import ProtocolViolation, UserError
from wsbench.core.params import Param, parse_widths
from wsbench.data.fields import field_of, siren_layout, split_fields
from wsbench.data.splits import read_split
from wsbench.data.store import StoredDataset
from wsbench.inr.fields import Field
from wsbench.inr.siren import SirenLayout, siren_forward
from wsbench.train.heads import penultimate_features, predict, train_classifier, train_feature_head
from wsbench.train.loop import CHECKPOINT_STEPS, Loop, stage_result
from wsbench.train.optim import Optimisation
from wsbench.zoo.method import GRAPH_PARAMS, GRAPH_SMOKE, ZooMethod
from wsbench.zoo.recipe import DWSNET_SET, QUICK_UDF_ZOO, QUICK_ZOO, on_shapes

__all__ = ["CHECKPOINT_STEPS", "DWSNET_SET", "GRAPH_PARAMS", "GRAPH_SMOKE", "QUICK_UDF_ZOO", "QUICK_ZOO", "SHAPE_BOUND", "DataSplits", "Dataset", "Field",
           "HeadResult", "HeldOutSplit", "Loop", "Method", "MethodOutput", "Optimisation", "Param", "ProtocolViolation",
           "Reconstruction", "RunContext", "SirenLayout", "Split", "StoredDataset", "UserError", "ZooMethod",
           "field_of", "on_shapes", "parse_widths", "penultimate_features", "predict", "read_split", "siren_forward", "siren_layout", "split_fields",
           "stage_result", "train_classifier", "train_feature_head"]
