"""A simulator of the Simplismart platform for development, tests, the demo and benchmarks.

It keeps its own plain data and never imports the client, so each can catch the other's mistakes.
"""
