"""The INR toolbox: SIREN layouts, fields, batched fitting, meta-learning inner loops.
A leaf: it imports nothing else of wsbench, so it can be used (and tested) on its own."""
