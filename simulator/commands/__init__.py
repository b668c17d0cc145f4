"""The `voxsim` subcommands: the parser (parser.py) and one module of handlers per
kind of command. simulator/cli.py is the entry point that parses, dispatches and
turns every failure into one line and an exit code."""
