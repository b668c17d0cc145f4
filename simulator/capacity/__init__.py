"""Capacity simulation (`voxsim capacity`): a deployment in virtual time.

`voxsim load` measures a real agent on this machine; this package predicts
one that cannot run here (N callers, instances of STT/LLM/TTS behind
balancers, autoscalers, crashes, regions, a box's cores) as discrete
events, so hours of traffic cost seconds of CPU (docs/capacity.md).

    config.py     the YAML file (pydantic, errors as file:line field)
    service.py    service-time distributions, seeded per stream
    engine.py     the SimPy model of one load level put together: simulate, Trace
    pool.py       a stage's samplers and instance groups, its utilisation
    traffic.py    the callers: closed, open, spikes; a call's turns in order
    turn.py       one turn through the stages: routing, delays, patience, its row
    visit.py      a request at an event-driven stage: slot, service, CPU, reconnect
    balancer.py   instances, per-instance queues, balancer policies
    static.py     a fixed pool, its FIFO waits computed on arrival
    cpu.py        one box's cores, processor sharing, backlogs
    callcpu.py    the CPU a call costs between turns (call_cpu)
    autoscale.py  the autoscaler, crashes, the clock that samples instances
    regions.py    regions, RTTs, nearest-region routing
    record.py     simulated turns stored by column
    summary.py    percentiles, wait vs service per stage, utilisation
    timeline.py   the run as a time series (capacity_timeline.jsonl)
    search.py     the breakpoint search (the load tool's own steps)
    plan.py       `capacity plan`: the smallest deployment, choices compared
    calibrate.py  --from-run: service and CPU times from a run's turns.jsonl
    command.py    the CLI: tables, capacity.json, load.jsonl
"""
