"""Classifiers over the weights of INRs, most of them invariant to permuting hidden neurons."""
