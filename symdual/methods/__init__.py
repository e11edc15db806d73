"""The mathematics of single methods that the generic engine cannot derive: numeric duals, their
series, proofs and the records of non-separable penalties. Catalog entries name these functions."""
