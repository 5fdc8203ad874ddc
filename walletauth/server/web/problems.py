"""Every layer's error codes mapped to HTTP, in one place, as RFC 9457 problem details.

A response for an error is ``application/problem+json`` with ``type``, ``title``,
``status``, ``detail`` and the stable machine-readable ``code`` of the error. The
``type`` is ``urn:walletauth:problem:<code>`` so clients may key on either.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from walletauth.errors import WalletAuthError

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
PROBLEM_TYPE_PREFIX: Final = "urn:walletauth:problem:"
PROBLEM_SCHEMA_REF: Final = "#/components/schemas/Problem"


class Outcome(NamedTuple):
    status: int
    title: str


STATUS_BY_CODE: Final[dict[str, Outcome]] = {
    # walletauth.siwe: the message is not a SIWE message at all
    "malformed_message": Outcome(400, "Malformed sign-in message"),
    # walletauth.siwe: a well-formed message this service does not accept
    "domain_mismatch": Outcome(403, "Message is for another domain"),
    "scheme_mismatch": Outcome(403, "Message is for another scheme"),
    "uri_mismatch": Outcome(403, "Message is for another URI"),
    "chain_not_allowed": Outcome(403, "Chain not allowed"),
    # walletauth.siwe: the signature or the message's time or nonce does not check out
    "nonce_mismatch": Outcome(401, "Nonce mismatch"),
    "expired": Outcome(401, "Message expired"),
    "not_yet_valid": Outcome(401, "Message not yet valid"),
    "issued_in_future": Outcome(401, "Message issued in the future"),
    "too_old": Outcome(401, "Message too old"),
    "invalid_signature": Outcome(401, "Invalid signature"),
    "rpc_unavailable": Outcome(503, "Chain RPC unavailable"),
    # walletauth.policy and walletauth.store: a request the policy refuses
    "unknown_purpose": Outcome(422, "Unknown purpose"),
    "unknown_category": Outcome(422, "Unknown data category"),
    "unknown_ground": Outcome(422, "Unknown third-party ground"),
    "category_not_for_ground": Outcome(422, "Category not carried by this third-party ground"),
    "purpose_not_allowed": Outcome(422, "Purpose not allowed"),
    "consent_not_changeable": Outcome(422, "Consent cannot be changed for this purpose"),
    "not_a_consent_purpose": Outcome(422, "Purpose does not rest on consent"),
    "unsupported_language": Outcome(422, "Unsupported language"),
    "consent_required": Outcome(403, "Consent required"),
    "policy_changed": Outcome(403, "Consent on hold: the policy's text changed since"),
    "purpose_suspended": Outcome(409, "Purpose suspended"),
    "age_confirmation_required": Outcome(403, "Age confirmation required"),
    "guardian_consent_required": Outcome(403, "Guardian consent required"),
    "third_party_stopped": Outcome(403, "Third-party provision stopped"),
    "ground_not_allowed": Outcome(403, "Third-party ground not allowed"),
    "joint_use_not_allowed": Outcome(403, "Joint use not allowed by the policy"),
    "no_age_rule": Outcome(422, "The policy has no age rule"),
    "age_confirmation_final": Outcome(409, "Age confirmed under the guardian age"),
    # An intake's required item (ABCRECORDS 9) neither in the request nor on record.
    "required_item_missing": Outcome(422, "Required item missing"),
    # walletauth.policy and walletauth.store: bad input
    "invalid_address": Outcome(400, "Invalid address"),
    "invalid_argument": Outcome(400, "Invalid argument"),
    "invalid_ip": Outcome(400, "Invalid IP address"),
    "invalid_field_value": Outcome(400, "Invalid field value"),
    # A caller's record with a field its category does not declare (the services API
    # passes a service's data through as sent).
    "field_not_allowed": Outcome(422, "Record field not declared by the policy"),
    "unknown_subject": Outcome(404, "Unknown subject"),
    # walletauth.policy and walletauth.store: a bug or a broken deployment
    "naive_datetime": Outcome(500, "Internal time handling error"),
    "invalid_policy": Outcome(500, "Invalid policy"),
    "policy_not_found": Outcome(500, "Policy not found"),
    "invalid_hash_key": Outcome(500, "Invalid hash key"),
    "unsupported_database": Outcome(500, "Unsupported database"),
    "insecure_secrets": Outcome(500, "Insecure secrets"),
    "secrets_unreadable": Outcome(500, "Secrets unreadable"),
    "unknown_key_version": Outcome(500, "Unknown key version"),
    "subject_key_missing": Outcome(500, "Subject key missing"),
    # walletauth.rights: the wallet owner's requests
    "wrong_request": Outcome(403, "Signed message is for another request"),
    "signer_mismatch": Outcome(403, "Signed by another address than the session's"),
    "not_user_supplied": Outcome(422, "Not data the user supplied"),
    "unknown_record": Outcome(404, "Unknown record"),
    "undeclared_field": Outcome(422, "Field not declared for the category"),
    "invalid_correction": Outcome(422, "Invalid correction"),
    "not_restrictable": Outcome(422, "Use for this purpose cannot be suspended"),
    # walletauth.server
    "nonce_unknown": Outcome(401, "Unknown, expired or used nonce"),
    "not_authenticated": Outcome(401, "Not signed in"),
    "invalid_token": Outcome(401, "Invalid access token"),
    "session_revoked": Outcome(401, "Session ended"),
    "rate_limited": Outcome(429, "Too many requests"),
    "malformed_json": Outcome(400, "Malformed JSON"),
    "invalid_request": Outcome(422, "Invalid request"),
    "request_too_large": Outcome(413, "Request body too large"),
    "malformed_request": Outcome(400, "Malformed HTTP request"),
    "request_head_too_large": Outcome(431, "Request Header Fields Too Large"),
    "request_head_timeout": Outcome(408, "Request Timeout"),
    "request_body_timeout": Outcome(408, "Request Timeout"),
    "not_found": Outcome(404, "Not found"),
    "method_not_allowed": Outcome(405, "Method not allowed"),
    "service_unavailable": Outcome(503, "Service unavailable"),
    "metrics_unauthorized": Outcome(401, "Metrics token required"),
    # walletauth.store: the database cannot serve now; nothing was written
    "database_unavailable": Outcome(503, "Database unavailable"),
    "storage_full": Outcome(507, "Out of storage"),
    "internal_error": Outcome(500, "Internal error"),
    # walletauth.server.config.services: calls of registered services
    "service_unauthorized": Outcome(401, "Service not authenticated"),
    "purpose_not_granted_to_service": Outcome(403, "Purpose not granted to this service"),
    "guardian_consent_not_delegated": Outcome(
        403, "This service may not record guardian consents"),
    "category_reserved": Outcome(403, "Category written only through its own endpoint"),
    "subject_creation_not_granted": Outcome(
        403, "This service may not create subjects for this purpose"),
    "category_not_granted_to_service": Outcome(
        403, "Category serves no purpose granted to this service"),
    # walletauth.console: the operator's console
    "console_sign_in_required": Outcome(401, "Console sign-in required"),
    "not_an_operator": Outcome(403, "Not an operator"),
    "console_csrf_failed": Outcome(403, "Console form without its CSRF token"),
    "console_cross_origin": Outcome(403, "Console POST from another origin"),
    "console_form_invalid": Outcome(422, "Invalid console form"),
    # walletauth.oidc: the OpenID Provider's sign-in page
    "authorization_expired": Outcome(400, "Sign-in page expired; start again from the client"),
}

UNMAPPED: Final = Outcome(500, "Internal error")
"""A code no layer documented: a bug, answered as a 500 that names the code."""


class Problem(BaseModel):
    """An RFC 9457 problem detail with walletauth's stable error code."""

    type: str = Field(examples=["urn:walletauth:problem:nonce_unknown"])
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code", examples=["nonce_unknown"])


def outcome_of(code: str) -> Outcome:
    return STATUS_BY_CODE.get(code, UNMAPPED)


def problem_response(
    code: str, detail: str, *, headers: dict[str, str] | None = None
) -> JSONResponse:
    status, title = outcome_of(code)
    body = Problem(
        type=PROBLEM_TYPE_PREFIX + code, title=title, status=status, detail=detail, code=code
    )
    return JSONResponse(
        body.model_dump(), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


RETRY_AFTER_SECONDS: Final = 2
"""What a client is told to wait for a dependency that is down, unless the error says."""


def error_response(error: WalletAuthError) -> JSONResponse:
    headers: dict[str, str] = {}
    retry_after = getattr(error, "retry_after", None)
    status = outcome_of(error.code).status
    if retry_after is None and status in (503, 507):  # a dependency, not the request
        retry_after = RETRY_AFTER_SECONDS
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="walletauth"'
    return problem_response(error.code, error.message, headers=headers)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` entries documenting problem answers with their model."""
    return {
        status: {
            "description": _describe(status),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
        }
        for status in statuses
    }


def _describe(status: int) -> str:
    codes = sorted(code for code, outcome in STATUS_BY_CODE.items() if outcome.status == status)
    return "Problem; code is one of: " + ", ".join(codes)
