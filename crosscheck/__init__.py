"""Cross-checks of wsbench's adapters against their authors' code: given a path to the
authors' checkout, each script shows in float64 that wsbench's model computes the authors'
function and trains with the authors' steps. Run from the repository root:

    python -m crosscheck.<method> PATH_TO_AUTHORS_CHECKOUT

The authors' code is imported from that path and never copied into this project; each
script's result goes to results/reference/crosscheck/<method>.json."""
