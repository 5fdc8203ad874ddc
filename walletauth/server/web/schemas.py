"""Request and response bodies of the HTTP API, as documented in its OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGE_CHARS: Final = 8192
MAX_SIGNATURE_CHARS: Final = 8192
MAX_PURPOSE_CHARS: Final = 64


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NonceResponse(BaseModel):
    nonce: str = Field(description="Put it in the message; single use, valid for a few minutes")


class VerifyRequest(_Request):
    message: str = Field(max_length=MAX_MESSAGE_CHARS, description="The EIP-4361 text signed")
    signature: str = Field(
        max_length=MAX_SIGNATURE_CHARS, description="0x-hex signature (EOA, EIP-1271 or EIP-6492)"
    )


class TokenResponse(BaseModel):
    address: str = Field(description="EIP-55 address that signed in")
    chain_id: int
    access_token: str = Field(description="ES256 JWT; check it against /.well-known/jwks.json")
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires")


class SessionResponse(BaseModel):
    address: str
    chain_id: int


class ConsentChange(_Request):
    purpose: str = Field(min_length=1, max_length=MAX_PURPOSE_CHARS)
    granted: bool


class ConsentChanges(_Request):
    consents: dict[str, bool] = Field(
        min_length=1, max_length=64, description="Purpose id -> granted, applied in order"
    )


class AgeDeclaration(_Request):
    under_guardian_age: bool = Field(
        description="Whether the user is younger than the policy's guardian age"
        " (`age.guardian_consent_below` in GET /policy): a yes or no, never a birth date")


class AgeState(BaseModel):
    guardian_consent_below: int = Field(description="The policy's guardian age, in years")
    confirmed: bool = Field(description="The user confirmed their age (PUT /me/age)")
    under_guardian_age: bool
    guardian_consent: bool = Field(description="A guardian's consent is on record")


class PurposeChange(BaseModel):
    changed_in: str | None = Field(
        description="The policy version whose change entry names the purpose; null when its"
        " text changed without an entry")
    summary: dict[str, str] | None = Field(
        description="What changed, {ja, en}: the operator's summary, not the policy's words")


class ConsentsResponse(BaseModel):
    consents: dict[str, bool] = Field(description="Purpose id -> granted, for optional purposes")
    suspended: list[str] = Field(
        default_factory=list,
        description="Purposes whose use the wallet suspended (POST /me/restrictions)")
    on_hold: dict[str, str] = Field(
        default_factory=dict,
        description="Granted purposes not in use now -> why (purpose_suspended,"
        " age_confirmation_required, guardian_consent_required, policy_changed: granted to"
        " an earlier text of the purpose, on hold until granted again)")
    changed: dict[str, PurposeChange] = Field(
        default_factory=dict,
        description="Purposes on hold with policy_changed -> what changed in their text")
    age: AgeState | None = Field(
        default=None, description="The age rule's state; null when the policy has no age rule")


class HealthResponse(BaseModel):
    status: Literal["ok"]
    checks: dict[str, Literal["ok"]]


class Jwk(BaseModel):
    """A P-256 key: access tokens, and ID tokens of clients registered for ES256."""

    kty: Literal["EC"]
    crv: Literal["P-256"]
    x: str
    y: str
    kid: str
    use: Literal["sig"]
    alg: Literal["ES256"]


class RsaJwk(BaseModel):
    """An RSA key: ID tokens of OpenID Connect clients registered for RS256 (published
    only where the OpenID Provider is configured)."""

    kty: Literal["RSA"]
    n: str
    e: str
    kid: str
    use: Literal["sig"]
    alg: Literal["RS256"]


class JwkSet(BaseModel):
    keys: list[Annotated[Jwk | RsaJwk, Field(discriminator="kty")]]
