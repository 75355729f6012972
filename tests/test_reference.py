"""The committed reference table (results/reference/): its records recompute from their own
predictions and labels on a clone with no data prepared, and its README is the report."""
import re

from conftest import ROOT

REFERENCE = ROOT / "results" / "reference"
BEGIN, END = "<!-- reference-matrix:begin -->", "<!-- reference-matrix:end -->"  # README.md's matrix block


def test_reference_records_verify_with_no_data_prepared(dirs, cli):
    code, out, err = cli("--results", str(REFERENCE), "verify")  # `dirs`: an empty data root
    assert code == 0, out + err
    verified = re.search(r"verified (\d+) records: 0 problems", out)
    assert verified and int(verified.group(1)) > 0, out


def test_reference_readme_is_what_the_report_prints(dirs, cli):
    code, out, err = cli("--results", str(REFERENCE), "report", "--format", "markdown")
    assert code == 0, err
    readme = REFERENCE / "README.md"
    assert readme.read_text() == out, (f"{readme} is stale: regenerate it with `wsbench --results "
                                       "results/reference report --format markdown > results/reference/README.md`")


def test_reference_figures_are_at_most_150_kb():
    figures = sorted(REFERENCE.rglob("*.png"))  # figures/ and similarity/
    assert figures and not [f"{p.name}: {p.stat().st_size} bytes" for p in figures if p.stat().st_size > 150_000]


def test_reference_readme_opens_with_the_legend_and_the_matrix(dirs, cli):
    text = (REFERENCE / "README.md").read_text()
    legend, rest = text.split("## Test accuracy by method and data set")
    assert legend.startswith("# wsbench reference table\n") and "- **threads**:" in legend
    matrix, tables = rest.split("\n## digits\n")
    header = [c.strip() for c in matrix.splitlines()[2].strip("|").split("|")]
    assert header == ["method", "digits", "mnist", "fashion-mnist", "modelnet40"]
    assert "| threads" not in tables and "In every row: profile quick;" in tables  # said once, not a column


def test_readme_matrix_block_is_the_reference_matrix(dirs, cli):
    code, out, err = cli("--results", str(REFERENCE), "report", "--format", "matrix")
    assert code == 0, err
    readme = (ROOT / "README.md").read_text()
    block = readme.split(BEGIN)[1].split(END)[0]
    assert block == f"\n{out}", ("README.md's matrix is stale: regenerate it with `wsbench --results "
                                 "results/reference report --format matrix` between its markers")
