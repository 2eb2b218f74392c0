"""The Simplismart Deployment Lifecycle API: the only code that speaks HTTP to the platform."""
