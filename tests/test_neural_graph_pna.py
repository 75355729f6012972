"""The neural graph as Kofinas et al. published it (wsbench.models.neural_graph_pna): the
properties their model has, checked without their code (crosscheck/neural_graph.py compares
the two functions themselves)."""
import pytest
import torch

from wsbench.inr.siren import SirenLayout
from wsbench.models.neural_graph_pna import NeuralGraphPNA, layer_statistics

LAYOUTS = [SirenLayout((2, 32, 32, 1)), SirenLayout((3, 8, 8, 8, 2))]
by_widths = pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: "-".join(map(str, layout.widths)))


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def model_and_batch(layout: SirenLayout, n: int = 4):
    torch.manual_seed(0)
    model = NeuralGraphPNA(layout, 5, hidden=8, layers=3, fourier_features=16).double().eval()
    return model, torch.randn(n, layout.num_params, dtype=torch.float64)


@by_widths
def test_swapped_input_neurons_or_a_changed_weight_change_the_logits(layout):
    """Negative controls: the input neurons have positional embeddings of their own, so their
    order is seen; and a weight is not ignored. At initialisation the logits vary little between
    INRs (1e-4), so the bar is set between that and the float64 rounding the symmetries keep (1e-16)."""
    model, flat = model_and_batch(layout)
    (w1, _), *_ = layout.unflatten(flat)
    swapped = flat.clone()
    swapped[:, :w1[0].numel()] = w1[:, :, [1, 0, *range(2, w1.shape[2])]].flatten(1)
    nudged = flat.clone()
    nudged[:, w1[0].numel() + 3] += 0.5  # a weight of the second layer
    for changed in (swapped, nudged):
        assert ((model(changed) - model(flat)).abs().amax(1) > 1e-9).all()


def test_the_layer_norm_couples_the_inrs_of_a_batch():
    """As in the authors' model (torch-geometric's graph-mode LayerNorm without a batch vector):
    an INR's logits depend on its batch mates, though not on their order."""
    layout = LAYOUTS[0]
    model, flat = model_and_batch(layout)
    logits = model(flat)
    assert (model(flat[:1]) - logits[:1]).abs().max() > 1e-9
    torch.testing.assert_close(model(flat.flip(0)), logits.flip(0), atol=1e-12, rtol=0)


@by_widths
def test_the_pruned_last_layer_computes_the_full_layers_output_states(layout):
    model, flat = model_and_batch(layout)
    conv, d = model.convs[-1], 8
    h = [torch.randn(4, n, d, dtype=torch.float64) for n in layout.widths]
    edges = [[torch.randn(4, o, i, d, dtype=torch.float64) for o, i in layout.layer_shapes] for _ in range(2)]
    torch.testing.assert_close(conv.outputs(h[-2], h[-1], edges[0][-1]), conv(h, *edges)[-1], atol=1e-12, rtol=0)


def test_layer_statistics_standardise_each_weight_matrix_and_bias_vector():
    layout = LAYOUTS[0]
    flat = torch.randn(50, layout.num_params, dtype=torch.float64) * torch.linspace(0.1, 3, layout.num_params) + 2
    mean, std = layer_statistics(layout, flat)
    for w, b in layout.unflatten((flat - mean) / std):
        for part in (w, b):
            assert abs(part.mean().item()) < 1e-9 and abs(part.std().item() - 1) < 1e-9
