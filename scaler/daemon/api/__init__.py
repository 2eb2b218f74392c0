"""The control API under ``/api/v1/``: keys and roles, request bodies, exceptions and deployments.

It records people's exceptions in the state store and shows what the daemon knows; it never
calls the platform (the reconciler acts on what it records).
"""
