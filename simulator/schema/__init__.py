"""The scenario schema, one module per section of a scenario file.

Import the models from `simulator.scenario`, which gathers them into `Scenario`
and loads files; these modules only say what each section accepts.
"""
