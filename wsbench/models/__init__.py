"""Networks: the hypernetwork, the modulated SIREN, MWT's network and the classifiers of
INR weights (DWSNet, NFN, neural graph, flat MLP). They know INRs, not experiments."""
