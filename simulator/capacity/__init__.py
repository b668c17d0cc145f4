"""Capacity simulation (`voxsim capacity`): a deployment in virtual time.

`voxsim load` measures a real agent on this machine; this package predicts
one that cannot run here (N callers, pools of STT/LLM/TTS instances with
slots and FIFO queues) as discrete events, so hours of traffic cost seconds
of CPU. It models queueing only: CPU contention between stages on one box
is what the load tool measures (docs/capacity.md).

    config.py     the YAML file (pydantic, errors as file:line field)
    service.py    service-time distributions, seeded per stream
    engine.py     the SimPy model: callers, turns, pools
    summary.py    percentiles, wait vs service per stage, utilisation
    search.py     the breakpoint search (the load tool's own steps)
    calibrate.py  --from-run: service times from a run's turns.jsonl
    command.py    the CLI: table, capacity.json, load.jsonl
"""
