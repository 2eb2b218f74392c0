"""The simulated platform's fixed vocabulary: defaults, statuses, health values, endpoint names, messages.

Every text the platform surface answers with lives here, so the contract's wording is
written once and the tests can compare against the same constants.
"""

from __future__ import annotations

#: The bearer token the simulator accepts unless told otherwise.
DEFAULT_TOKEN = "sim-token"
#: The simulated organization (the contract's example organization).
DEFAULT_ORG_ID = "54360212-2263-44c6-afaf-1333544854f7"

# --- Deployment statuses (the list endpoint's ``status``) -------------------
DEPLOYED = "DEPLOYED"
DEPLOYING = "DEPLOYING"
FAILED = "FAILED"
DELETED = "DELETED"
DELETING = "DELETING"
SCALED_DOWN = "SCALED_DOWN"
#: The six statuses the contract documents.
STATUSES = (DEPLOYED, DEPLOYING, FAILED, DELETED, DELETING, SCALED_DOWN)
#: Statuses in which update-replicas and startstop answer "No active deployment found".
INACTIVE_STATUSES = frozenset({FAILED, DELETING, DELETED})

# --- Health values (fetch-status ``data``) -----------------------------------
HEALTHY = "Healthy"
PROGRESSING = "Progressing"
INITIALIZING = "Initializing"
DEGRADED = "Degraded"
UNHEALTHY = "Unhealthy"
UNKNOWN = "Unknown"
HEALTH_SCALED_DOWN = "SCALED_DOWN"
MISSING = "Missing"
#: The eight health values the contract documents.
HEALTH_VALUES = (HEALTHY, PROGRESSING, INITIALIZING, DEGRADED, UNHEALTHY, UNKNOWN, HEALTH_SCALED_DOWN, MISSING)

# --- Endpoint names (request log and fault targeting) ------------------------
LIST_DEPLOYMENTS = "list_deployments"
GET_HEALTH = "get_health"
UPDATE_REPLICAS = "update_replicas"
STARTSTOP = "startstop"
DELETE = "delete"
ENDPOINTS = (LIST_DEPLOYMENTS, GET_HEALTH, UPDATE_REPLICAS, STARTSTOP, DELETE)

# --- Texts of the platform's answers -----------------------------------------
INVALID_TOKEN = "Invalid token."
NOT_FOUND_DETAIL = "Not found."
NO_ACTIVE_DEPLOYMENT = "No active deployment found"
DEPLOYMENT_NOT_FOUND = "Deployment not found"
DEPLOYMENT_IS_DELETED = "Deployment is deleted"
DEPLOYMENT_ID_REQUIRED = "Deployment ID is required"
INVALID_MODEL_REPO_ID = "model_repo_id must be a valid UUID"
INSUFFICIENT_QUOTA = "Insufficient GPU quota for requested replicas"
REPLICAS_UPDATED = "Autoscaling configuration updated successfully"
REPLICAS_REQUIRED = "min_replicas and max_replicas are required"
REPLICAS_NOT_INTEGERS = "min_replicas and max_replicas must be integers"
MIN_REPLICAS_NEGATIVE = "min_replicas must be greater than or equal to 0"
MAX_REPLICAS_TOO_SMALL = "max_replicas must be greater than or equal to 1"
MIN_ABOVE_MAX = "min_replicas must be less than or equal to max_replicas"
MIN_ZERO_REFUSED = "min_replicas can only be 0 when cron scaling is configured for this deployment"
BODY_NOT_OBJECT = "Request body must be a JSON object"
INVALID_ACTION = "Invalid action. Must be 'start' or 'stop'"
ORG_REQUIRED = "org is required"
ORG_MISMATCH = "org does not match the deployment's organization"
WALLET_BLOCKED = "Wallet is blocked. Please resolve billing issues to continue."
STARTED = "Deployment started successfully"
STOPPED = "Deployment stopped successfully"
DELETED_SUCCESSFULLY = "Deployment deleted successfully"
ALREADY_DELETED = "Deployment already Deleted"
DELETION_FAILED = "Failed to delete deployment"
DELETION_FAILED_TOO_OFTEN = "Deletion failed multiple times already. Please contact support."
#: Failed deletion attempts after which delete answers 400 instead of trying again.
MAX_FAILED_DELETIONS = 3

# --- Health messages -----------------------------------------------------------
MESSAGE_READY = "Ready to use, the model is running and available for inference."
MESSAGE_PAUSED = "Deployment is paused. Resume to start inferencing."
MESSAGE_STARTING = "Deployment is starting, pods are being scheduled."
MESSAGE_CREATING = "Deployment is being created."
MESSAGE_FAILED = "Deployment failed, no health data is available."
MESSAGE_DELETING = "Deployment is being deleted."

#: The message a health answer carries when none was given, per documented value.
HEALTH_MESSAGES: dict[str, tuple[str, str]] = {
    HEALTHY: (MESSAGE_READY, "info"),
    PROGRESSING: (MESSAGE_STARTING, "info"),
    INITIALIZING: (MESSAGE_CREATING, "info"),
    DEGRADED: ("Some replicas are not ready; the deployment serves with reduced capacity.", "warning"),
    UNHEALTHY: ("The deployment is not serving requests.", "error"),
    UNKNOWN: ("The health of the deployment could not be determined.", "warning"),
    HEALTH_SCALED_DOWN: (MESSAGE_PAUSED, "info"),
    MISSING: ("Health data is unavailable.", "warning"),
}
