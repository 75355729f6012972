"""The results page: paired tests, and the page itself as headless Chromium renders it."""
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib.transforms import Bbox

from conftest import ROOT, records

from wsbench.report.stats import compare, holm, mcnemar_exact

TOY = str(ROOT / "tests" / "plugins")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_exact_mcnemar_and_holm_give_the_textbook_values():
    assert mcnemar_exact(0, 10) == pytest.approx(2 * 0.5 ** 10)
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(3, 12) == pytest.approx(mcnemar_exact(12, 3))
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_a_p_value_that_underflows_is_not_shown_as_zero():
    from wsbench.report.paired import p_value
    assert mcnemar_exact(0, 1300) == 0.0  # 2 * 0.5 ** 1300 is below float64's range
    assert p_value(0.0) == "< 1e-300" and p_value(0.012345) == "0.0123"


def test_comparisons_pair_the_same_seeds_and_sum_discordant_counts():
    ref = {0: np.array([1, 1, 1, 0], bool), 1: np.array([1, 1, 0, 0], bool)}
    other = {0: np.array([0, 1, 1, 1], bool), 2: np.array([0, 0, 0, 0], bool)}
    (c,) = compare(ref, {"other": other})
    assert c.seeds == [0] and (c.reference_only, c.other_only) == (1, 1) and c.p == 1.0


def sweep_file(tmp_path, seeds: int):
    path = tmp_path / "page.yaml"
    path.write_text(f"name: page\nseeds: {seeds}\nprofile: quick\nmethods:\n  - name: oracle\n"
                    f"    params: {{noise: [0.05, 0.6]}}\ndatasets:\n  - name: synthetic\n")
    return path


def make_page(cli, tmp_path):
    assert cli("--plugins", TOY, "run", "--method", "oracle", "--dataset", "synthetic", "--seeds", "2",
               "--param", "noise=0.05", "--quiet")[0] == 0
    assert cli("--plugins", TOY, "run", "--method", "oracle", "--dataset", "synthetic", "--seeds", "2",
               "--param", "noise=0.6", "--quiet")[0] == 0
    page = tmp_path / "page"
    code, out, err = cli("--plugins", TOY, "report", "--sweep", str(sweep_file(tmp_path, 3)), "--html", str(page))
    assert code == 0, err
    assert out.strip() == f"wrote {page / 'index.html'}"
    return page


def test_page_states_comparisons_costs_cells_not_run_and_links_each_record(dirs, cli, tmp_path):
    page = make_page(cli, tmp_path)
    text = (page / "index.html").read_text()
    assert "oracle [noise=0.05] head h" in text and "oracle [noise=0.6] head h" in text
    # the low-noise row has the best validation accuracy: it is the reference of the comparison
    assert re.search(r"<td>oracle \[noise=0.05\] head h</td>\s*<td>oracle \[noise=0.6\] head h</td>\s*<td>0, 1</td>",
                     text)
    assert text.count("not run yet") == 2  # seed 2 of each configuration
    assert "CPU time of these records" in text and "Commits:" in text
    assert "<td>mnist</td>" in text and "is not prepared under" in text  # a data set without rows, and why
    png = (page / "synthetic-cost.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    links = re.findall(r"href='runs/([0-9a-f]+)\.json'", text)  # every row links its runs' records
    assert sorted(links) == sorted(r["run_id"] for r in records(dirs[1]))  # 2 configurations x 2 seeds
    assert all(json.loads((page / "runs" / f"{run}.json").read_text())["run_id"] == run for run in links)


def test_cost_plot_labels_cover_no_other_label_or_point():
    """Points that sit on top of each other still get labels that overlap neither each other nor
    a marker, and stay inside the axes."""
    from wsbench.report.figures import plt
    from wsbench.report.page import label_box, place_labels
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    xy = np.array([[100, 97.0], [100, 97.0], [105, 96.8], [110, 97.2], [3000, 50], [3100, 51], [90, 20]])
    ax.plot(xy[:, 0], xy[:, 1], "o")
    ax.set(xscale="log")
    ax.margins(x=0.25, y=0.12)
    texts = place_labels(ax, xy, [f"method number {i} head weights" for i in range(len(xy))])
    renderer = fig.canvas.get_renderer()
    boxes = [label_box(t, renderer) for t in texts]
    frame = ax.get_window_extent(renderer)
    scale = fig.dpi / 72
    markers = [Bbox.from_extents(x - 3 * scale, y - 3 * scale, x + 3 * scale, y + 3 * scale)
               for x, y in ax.transData.transform(xy)]
    for i, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[i + 1:] + markers), i
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
    plt.close(fig)


def test_markdown_report_adds_the_paired_comparisons(dirs, cli, tmp_path):
    make_page(cli, tmp_path)
    code, out, err = cli("--plugins", TOY, "report", "--format", "markdown")
    assert code == 0, err
    table, paired = out.split("\n## synthetic\n")[1].split("### Paired comparisons on synthetic")
    assert "oracle" in table and "McNemar" not in table
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in paired.splitlines()
            if line.startswith("| oracle")]
    assert len(rows) == 1, paired  # the reference row against the one other row
    reference, other, seeds, b, c, p, p_holm, differs = rows[0]
    assert (reference, other, seeds) == ("oracle [noise=0.05] head h", "oracle [noise=0.6] head h", "0, 1")
    assert int(b) > int(c) and float(p) == pytest.approx(mcnemar_exact(int(b), int(c)), rel=1e-2)
    assert differs == ("yes" if float(p_holm) < 0.05 else "no")
    code, out, err = cli("--plugins", TOY, "report", "--format", "csv")
    assert code == 0 and "McNemar" not in out  # csv stays one table, for scripts


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_chromium_renders_the_tables_and_the_plot(dirs, cli, tmp_path):
    page = make_page(cli, tmp_path)
    url = (page / "index.html").as_uri()
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<table") == 5  # matrix, results, comparisons, cells without a result, data sets without rows
    assert all(f'class="dataframe {css}"' in dom for css in ("results", "comparisons", "not-run", "absent"))
    assert dom.index('class="matrix"') < dom.index('class="dataframe results"')  # the matrix comes first
    matrix = dom[dom.index('class="matrix"'):].split("</table>")[0]
    # the default noise is 0.1: both configurations are named by their noise; the less noisy is best, in bold
    assert "<td>oracle, noise=0.05</td>" in matrix and '<td class="sub">↳ noise=0.6</td>' in matrix
    assert re.search(r'<td class="best"><b>[\d.]+ ± [\d.]+ \(2\)</b></td>', matrix)
    assert 'src="synthetic-cost.png"' in dom
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,1600", url], capture_output=True,
                   timeout=120, check=True)
    from matplotlib.image import imread
    pixels = imread(shot)[..., :3]
    plot_blue = np.linalg.norm(pixels - np.array([31, 119, 180]) / 255, axis=-1) < 0.1  # matplotlib's first colour
    assert plot_blue.sum() > 20  # the plot's markers are on screen: the image loaded and was drawn


def test_budget_curves_show_a_longer_tuning_run_with_the_tables_budget_marked(dirs, cli, tmp_path):
    """A tuning run at twice the table run's epochs draws a curve of validation accuracy against
    training samples seen; the page and `report --figures` both show it."""
    from conftest import records
    from wsbench.report.figures import samples_seen
    args = ("run", "--method", "flat-mlp", "--dataset", "synthetic", "--profile", "smoke", "--quiet")
    assert cli(*args)[0] == 0
    assert cli(*args, "--tune", "--param", "epochs=4")[0] == 0
    tuned = next(r for r in records(dirs[1]) if r["tune"])
    assert tuned["metrics"]["train_samples"] == 80 and tuned["metrics"]["train_inrs"] == 80
    np.testing.assert_allclose(samples_seen(tuned, "weights"), [80, 160, 240, 320])
    code, _, err = cli("report", "--figures")
    assert code == 0 and "budget-synthetic.png" in err
    assert (dirs[1] / "figures" / "budget-synthetic.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = tmp_path / "page"
    assert cli("report", "--html", str(page))[0] == 0
    assert "Budget curves" in (page / "index.html").read_text() and (page / "synthetic-budget.png").is_file()


def test_a_budget_curve_is_marked_at_the_table_row_of_its_own_configuration():
    """The dot on a tuning run's curve comes from the table's runs of the same method, head and
    parameters (all but the budget's: epochs, evaluations), of its seed: another configuration
    is not its budget."""
    from wsbench.report.figures import table_point
    def run(epochs, network, seed=0, val=0.5, evals=None):
        return {"method": "nfn", "status": "ok", "seed": seed, "heads": {"weights": {"val_acc": val}},
                "params": {"epochs": epochs, "network": network, "lr": 1e-3, "evals": evals or epochs}}
    table = [run(20, "wsbench"), run(15, "authors", 1, 0.7), run(15, "authors", 0, 0.6, evals=5)]
    assert table_point(run(80, "authors"), "weights", table) == (15, 0.6)
    assert table_point({**run(80, "authors"), "params": {**run(80, "authors")["params"], "lr": 1e-2}}, "weights",
                       table) is None
    assert table_point(run(80, "authors", seed=1), "weights", table) == (15, 0.7)
    assert table_point(run(80, "authors", seed=2), "weights", table) == (15, 0.7)  # no seed 2: the first seed's
    assert table_point(run(80, "authors"), "weights", table[:1]) is None
    assert table_point(run(80, "authors"), "z", table) is None
