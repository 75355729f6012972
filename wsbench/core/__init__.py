"""The harness's core: plugin contracts, parameters, discovery, the run context, the
protocol, run records, and the runner that executes one run in a process of its own."""
