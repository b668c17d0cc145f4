"""A call in progress, in parts: `simulator.session.Session` runs them together.

`plan` is what a session is told to play and with which timing knobs, `record`
what it hands back; `pacing` keeps the line on one clock (caller frames out in
real time, agent audio placed where the caller hears it); `turnrows` builds
each turn's row from the plan and the agent's events; `replies` listens for
the agent's replies and places the caller's actions in them.
"""
