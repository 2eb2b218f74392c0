"""The long-running scaler: reconcile decisions, action execution, scheduling and HTTP endpoints."""
