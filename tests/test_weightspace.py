import pytest
import torch

from wsbench.inr.siren import SirenLayout, siren_forward
from wsbench.models.dwsnet import DWSNet
from wsbench.models.flat import FlatMLP
from wsbench.models.graph import NeuralGraph
from wsbench.models.neural_graph_pna import NeuralGraphPNA
from wsbench.models.nfn import NFN
from wsbench.models.scalegmn import ScaleGMN
from wsbench.models.symmetry import flip_signs, permute_hidden
from wsbench.train.heads import predict

LAYOUTS = [SirenLayout((2, 32, 32, 1)), SirenLayout((3, 16, 16, 1))]
INVARIANT = {
    "dwsnet": DWSNet,
    "nfn-np": lambda layout, classes: NFN(layout, classes, mode="np"),
    "nfn-hnp": lambda layout, classes: NFN(layout, classes, mode="hnp"),
    "graph": NeuralGraph,
    "scalegmn": ScaleGMN,
}
MODELS = {**INVARIANT, "flat": FlatMLP}
# The authors' networks (chosen by network=authors in their plugins): invariant as well, but kept out of
# MODELS' tests of wsbench's pipeline (the neural graph's batch-wide LayerNorm couples a batch's INRs).
AUTHORS = {"graph-pna": lambda layout, classes: NeuralGraphPNA(layout, classes, hidden=8, layers=3,
                                                                fourier_features=16)}
by_widths = pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: "-".join(map(str, layout.widths)))


@pytest.fixture(autouse=True)
def one_thread():
    """These models are small: a second thread saves a third at best, and on a CPU
    shared with another job its synchronisation made each small op wait (100x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def swap_inputs(layout: SirenLayout, flat: torch.Tensor) -> torch.Tensor:
    """The same INRs with their first two input coordinates swapped (a transposed image)."""
    (w1, _), *_ = layout.unflatten(flat)
    out = flat.clone()
    out[:, :w1[0].numel()] = w1[:, :, [1, 0, *range(2, w1.shape[2])]].flatten(1)
    return out


@by_widths
@pytest.mark.parametrize("name", [*INVARIANT, *AUTHORS])
def test_logits_are_invariant_to_hidden_permutations(layout, name):
    torch.manual_seed(0)
    model = {**INVARIANT, **AUTHORS}[name](layout, 5).double()
    flat = torch.randn(6, layout.num_params, dtype=torch.float64)
    logits = model(flat)
    assert logits.shape == (6, 5)
    for seed in range(3):
        permuted = permute_hidden(layout, flat, torch.Generator().manual_seed(seed))
        assert (permuted - flat).abs().max() > 0.1
        torch.testing.assert_close(model(permuted), logits, atol=1e-12, rtol=0)


@by_widths
def test_flat_mlp_sees_hidden_permutations(layout):
    torch.manual_seed(0)
    model = FlatMLP(layout, 5).double()
    flat = torch.randn(6, layout.num_params, dtype=torch.float64)
    permuted = permute_hidden(layout, flat, torch.Generator().manual_seed(0))
    assert (model(permuted) - model(flat)).abs().max() > 1e-3


@by_widths
def test_permute_hidden_preserves_the_inr_function(layout):
    gen = torch.Generator().manual_seed(0)
    flat = layout.init(4, gen).double()
    coords = (2 * torch.rand(300, layout.widths[0], generator=gen) - 1).double()
    permuted = permute_hidden(layout, flat, gen)
    assert (permuted - flat).abs().max() > 1e-3
    torch.testing.assert_close(siren_forward(layout, permuted, coords), siren_forward(layout, flat, coords),
                               atol=1e-10, rtol=0)
    # the check can fail: moving the first hidden layer's biases alone changes the function
    broken = flat.clone()
    start = layout.widths[0] * layout.widths[1]
    broken[:, start:start + layout.widths[1]] = broken[:, start:start + layout.widths[1]].roll(1, dims=1)
    assert (siren_forward(layout, broken, coords) - siren_forward(layout, flat, coords)).abs().max() > 1e-3


def test_permute_hidden_draws_a_permutation_per_sample():
    layout = LAYOUTS[1]
    flat = layout.init(1, torch.Generator().manual_seed(0)).expand(8, -1)
    permuted = permute_hidden(layout, flat, torch.Generator().manual_seed(1))
    assert len({tuple(row.tolist()) for row in permuted}) == 8
    torch.testing.assert_close(permuted.sort(1).values, flat.sort(1).values)



@by_widths
def test_kofinas_augmentation_is_the_inr_of_the_moved_signal_without_its_shift_and_dropout(layout):
    """With order-1 translations, no dropout and no shift, the augmented INR computes
    f(s R^T x + t) (R only for 2D inputs); the authors' shift and dropout then change it."""
    import math
    from wsbench.models.kofinas_augment import KofinasDraws, kofinas_augment
    gen = torch.Generator().manual_seed(0)
    flat = layout.init(6, gen).double()
    draws = KofinasDraws.draw(layout, 6, gen)
    assert draws.order.min() >= 1 and draws.order.max() <= len(layout.layer_shapes) - 1
    assert 0.8 <= draws.scale.min() and draws.scale.max() <= 1.2 and draws.angle.abs().max() <= 45
    exact = KofinasDraws(draws.translation, torch.ones(6, dtype=torch.long), draws.angle,
                         [torch.ones_like(k) for k in draws.keep], draws.scale)
    coords = (2 * torch.rand(200, layout.widths[0], generator=gen) - 1).double()
    angle = draws.angle.double() * math.pi / 180
    moved = []
    for n in range(6):
        x = coords.clone()
        if layout.widths[0] == 2:
            c, s = angle[n].cos(), angle[n].sin()
            x = x @ torch.tensor([[c, -s], [s, c]], dtype=torch.float64)  # rows R^T x
        moved.append(siren_forward(layout, flat[n:n + 1], draws.scale[n].double() * x + draws.translation[n].double()))
    torch.testing.assert_close(siren_forward(layout, kofinas_augment(layout, flat, exact, noise=0.0, drop=0.0), coords),
                               torch.cat(moved), atol=1e-10, rtol=0)
    augmented = kofinas_augment(layout, flat, draws)
    assert (augmented == 0).double().mean() > 0.002  # dropout zeroes about 1% of the entries
    assert (siren_forward(layout, augmented, coords) - torch.cat(moved)).abs().max() > 1e-3

@by_widths
def test_sign_flips_preserve_the_inr_function_and_scalegmn_alone_ignores_them(layout):
    """sin is odd: negating a hidden neuron's incoming weights, bias and outgoing weights
    keeps the SIREN's function. ScaleGMN's logits stay (with permutations too); others change."""
    gen = torch.Generator().manual_seed(0)
    flat = layout.init(6, gen).double() * 3
    coords = (2 * torch.rand(300, layout.widths[0], generator=gen) - 1).double()
    flipped = permute_hidden(layout, flip_signs(layout, flat, gen), gen)
    assert (flipped - flat).abs().max() > 1e-3
    torch.testing.assert_close(siren_forward(layout, flipped, coords), siren_forward(layout, flat, coords),
                               atol=1e-10, rtol=0)
    torch.manual_seed(0)
    models = {"scalegmn": ScaleGMN(layout, 5).double(), "graph": NeuralGraph(layout, 5).double(),
              "flat": FlatMLP(layout, 5).double()}
    logits = {name: model(flat) for name, model in models.items()}
    torch.testing.assert_close(models["scalegmn"](flipped), logits["scalegmn"], atol=1e-5, rtol=0)
    for name in ("graph", "flat"):  # negative controls: blind to the sign symmetry
        assert (models[name](flipped) - logits[name]).abs().max() > 1e-3, name


@pytest.mark.parametrize("name", ["dwsnet", "nfn-hnp", "graph", "scalegmn"])
def test_input_coordinates_keep_their_identity(name):
    torch.manual_seed(0)
    layout = LAYOUTS[0]
    model = INVARIANT[name](layout, 5).double()
    flat = torch.randn(6, layout.num_params, dtype=torch.float64)
    assert (model(swap_inputs(layout, flat)) - model(flat)).abs().max() > 1e-3


def test_nfn_np_cannot_tell_input_coordinates_apart():
    torch.manual_seed(0)
    layout = LAYOUTS[0]
    model = NFN(layout, 5, mode="np").double()
    flat = torch.randn(6, layout.num_params, dtype=torch.float64)
    torch.testing.assert_close(model(swap_inputs(layout, flat)), model(flat), atol=1e-5, rtol=0)


def test_nfn_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        NFN(LAYOUTS[0], 5, mode="hn")


@pytest.mark.parametrize("name", MODELS)
def test_model_memorises_a_tiny_problem(name):
    torch.manual_seed(0)
    layout = LAYOUTS[1]
    flat = torch.randn(32, layout.num_params)
    labels = torch.randint(0, 4, (32,))
    model = MODELS[name](layout, 4)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):
        logits = model(flat)
        if (logits.argmax(1) == labels).all():
            break
        loss = torch.nn.functional.cross_entropy(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (logits.argmax(1) == labels).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", MODELS)
def test_model_runs_on_cuda_like_on_cpu(name):
    torch.manual_seed(0)
    layout = LAYOUTS[0]
    model = MODELS[name](layout, 5).double()
    flat = torch.randn(6, layout.num_params, dtype=torch.float64)
    torch.testing.assert_close(model.cuda()(flat.cuda()).cpu(), model.cpu()(flat))


@by_widths
def test_dense_pna_computes_what_torch_geometric_pnaconv_computes(layout):
    """DensePNA is PNAConv written for the fixed neuron graph: with PNAConv's weights, on the
    edge list of siren_graph (both directions, one state per edge), the two give the same
    node states."""
    from torch_geometric.nn import PNAConv
    from torch_geometric.utils import degree

    from wsbench.models.graph import DensePNA, siren_graph

    torch.manual_seed(0)
    hidden, batch = 8, 3
    edge_index, *_ = siren_graph(layout)
    edges = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    num_nodes = sum(layout.widths)
    conv = PNAConv(hidden, hidden, aggregators=["mean", "min", "max", "std"],
                   scalers=["identity", "amplification", "attenuation"],
                   deg=torch.bincount(degree(edges[1], num_nodes, dtype=torch.long)), edge_dim=hidden,
                   towers=1, pre_layers=1, post_layers=1, divide_input=False).double()
    dense = DensePNA(hidden, layout).double()
    dense.load_state_dict({name.replace("pre_nns.0.0", "pre").replace("post_nns.0.0", "post"): value
                           for name, value in conv.state_dict().items() if "aggr_module" not in name})
    h = [torch.randn(batch, n, hidden, dtype=torch.float64) for n in layout.widths]
    fwd = [torch.randn(batch, o, i, hidden, dtype=torch.float64) for o, i in layout.layer_shapes]
    expected = []
    for b in range(batch):  # one graph at a time, its edges in siren_graph's order
        edge_attr = torch.cat([e[b].flatten(0, 1) for e in fwd] * 2)
        expected.append(conv(torch.cat([x[b] for x in h]), edges, edge_attr))
    got = torch.cat(dense(h, fwd), 1)
    # PNAConv keeps its mean log-degree in float32: agreement to 1e-6, not to float64's last digit
    torch.testing.assert_close(got, torch.stack(expected), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_batched_prediction_equals_one_forward_pass(name):
    """predict() splits its input into small batches for speed: the predicted classes must be
    those of one pass over all INRs (130 here: two full batches and a remainder)."""
    torch.manual_seed(0)
    layout = LAYOUTS[0]
    model = MODELS[name](layout, 10).eval()
    x = torch.randn(130, layout.num_params)
    with torch.no_grad():
        expected = model(x).argmax(1).numpy()
    assert (predict(model, x) == expected).all()
