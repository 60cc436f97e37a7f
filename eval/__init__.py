"""Research: the evaluation harness (eval.harness), the reader recipe, tunings, benches and load tests. Not installed with the package; run from the repository root."""
