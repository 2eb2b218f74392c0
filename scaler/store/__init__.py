"""The daemon's memory (applied state, audit log, health, suspensions) behind one narrow interface."""
