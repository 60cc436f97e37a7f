"""The evaluation harness: QA sets, metrics, the runner and the benchmarks."""
