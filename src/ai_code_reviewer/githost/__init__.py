"""Git hosts: one interface, one client per host."""
