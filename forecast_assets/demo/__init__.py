"""Demo data and a random-weight Chronos for the demo, tests and benchmarks (never used in a client run)."""
