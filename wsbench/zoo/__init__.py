"""INR zoos: the recipe (one parameter table), the sharded store, and the base of the
methods that classify a zoo's weights."""
