"""The policy language and the schedule engine: pure functions of policies, deployments and an instant."""
