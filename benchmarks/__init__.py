"""Benchmarks of consultfsm against transitions, python-statemachine and a hand-written floor."""
