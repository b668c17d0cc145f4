"""The compiled engine for fixed pools (numba): the SimPy engine's trace, ~20x faster.

engine.simulate picks it when rule.compiled_fits accepts the file (no
autoscaler, crashes, CPU box, regions, or per-turn least-connections);
world.py builds the arrays, kernel.py runs the events, run.py drives it.
"""
