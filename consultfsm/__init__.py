"""consultfsm: consult-call legs as an explicit, sans-I/O finite state machine."""
