"""Load, soak, stress and breakpoint runs (`voxsim load`), with locust underneath.

Importing locust monkey-patches the whole process (gevent), so nothing in this
package imports it except `locustfile.py`, which only locust's own processes
load. Those processes never place calls themselves: each locust worker drives
a plain asyncio child (`engine.py`) that plays the calls with the same
`simulator.runner.run_call` as `voxsim run`, so every transport (aiortc too)
runs in a process gevent never touched.

    controller (voxsim load) -> agent, pre-rendered caller audio, run directory
      locust master/local: conductor.py's Conductor picks each step's concurrency,
                           aggregates steps into load.jsonl
        locust worker(s): one User = one caller, one task = one call
          engine (asyncio): run_call(...), turns/calls rows streamed per worker
"""
