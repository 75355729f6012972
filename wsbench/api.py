"""The plugin API: the one import path for method and data-set files, kept stable while
the package behind it moves. Write plugins against these names only (the shipped plugins
do: tests/test_layers.py checks it).

    from wsbench.api import Method, MethodOutput, Param, train_feature_head
"""
from wsbench.core.context import RunContext
from wsbench.core.contracts import (SHAPE_BOUND, DataSplits, Dataset, HeadResult, HeldOutSplit,
                                    Method, MethodOutput, Reconstruction, Split)
from wsbench.core.errors import ProtocolViolation, UserError
from wsbench.core.fileio import sha256_bytes
from wsbench.core.params import Param, parse_widths
from wsbench.data.fields import field_of, siren_layout, split_fields
from wsbench.data.idx import IdxImageDataset
from wsbench.data.pointclouds import PointCloudDataset, PointDA10Dataset, check_cloud, fit_points
from wsbench.data.splits import complement, per_class_holdout, read_split
from wsbench.data.store import StoredDataset
from wsbench.inr.fields import Field, random_queries
from wsbench.inr.meta import inner_sgd, step_batch
from wsbench.inr.siren import SirenLayout, pixel_grid, siren_forward
from wsbench.models.dwsnet import DWSNet
from wsbench.models.flat import FlatMLP
from wsbench.models.graph import NeuralGraph
from wsbench.models.hypernetwork import ConvEncoder, HyperNetwork, generate
from wsbench.models.mlp import mlp
from wsbench.models.modulated import ModulatedSiren
from wsbench.models.mwt import MWTNetwork
from wsbench.models.mwt_transformer import EndToEndMWT, draw_pixels, pixel_targets
from wsbench.models.nfn import NFN
from wsbench.models.neural_graph_pna import NeuralGraphPNA
from wsbench.models.nfn_classifier import NFNClassifier
from wsbench.models.canonical import PhaseFolded
from wsbench.models.scalegmn import ScaleGMN
from wsbench.models.scalegmn_b import ScaleGMNB
from wsbench.train.compiled import compile_module, require_compiler
from wsbench.train.heads import penultimate_features, predict, train_classifier, train_feature_head
from wsbench.train.loop import CHECKPOINT_STEPS, Loop, stage_result
from wsbench.train.onecycle import OneCycleOptimisation
from wsbench.train.optim import Optimisation
from wsbench.train.precision import precision_param
from wsbench.zoo.method import ZooMethod

__all__ = [
    # contracts and parameters
    "DataSplits", "Dataset", "HeadResult", "HeldOutSplit", "Method", "MethodOutput", "Param", "ProtocolViolation",
    "Reconstruction", "RunContext", "SHAPE_BOUND", "Split", "UserError", "parse_widths",
    # data sets
    "IdxImageDataset", "PointCloudDataset", "PointDA10Dataset", "StoredDataset", "check_cloud", "complement",
    "fit_points", "per_class_holdout", "read_split", "sha256_bytes",
    # INRs and their fields
    "Field", "SirenLayout", "draw_pixels", "field_of", "inner_sgd", "pixel_grid", "pixel_targets", "random_queries",
    "siren_forward", "siren_layout", "split_fields", "step_batch",
    # networks
    "ConvEncoder", "DWSNet", "EndToEndMWT", "FlatMLP", "HyperNetwork", "MWTNetwork", "ModulatedSiren", "NFN", "NFNClassifier",
    "NeuralGraph", "NeuralGraphPNA", "PhaseFolded", "ScaleGMN", "ScaleGMNB", "generate", "mlp",
    # training
    "CHECKPOINT_STEPS", "Loop", "OneCycleOptimisation", "Optimisation", "compile_module", "penultimate_features", "precision_param",
    "predict", "require_compiler", "stage_result",
    "train_classifier", "train_feature_head",
    # the two-stage zoo methods' base
    "ZooMethod",
]
