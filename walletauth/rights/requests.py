"""Which request a signed message is for: its ``resources`` name exactly one.

A wallet proves a request by signing an EIP-4361 message whose resources hold the
request's URN. A message naming another request, or several, does not prove this one,
so a signature given for an export can never be replayed as an erasure.
"""

from __future__ import annotations

from typing import Final, Literal

from walletauth.rights.errors import RightsError
from walletauth.siwe import SiweMessage

RequestKind = Literal["export", "erase", "correct", "restrict", "stop-third-party"]

REQUEST_URN_PREFIX: Final = "urn:walletauth:request:"
REQUEST_KINDS: Final[tuple[RequestKind, ...]] = (
    "export", "erase", "correct", "restrict", "stop-third-party",
)


def request_urn(kind: RequestKind) -> str:
    return REQUEST_URN_PREFIX + kind


def require_request(message: SiweMessage, kind: RequestKind) -> None:
    """Refuse (``wrong_request``) unless the message names exactly the request ``kind``."""
    named = [r for r in message.resources or () if r.startswith(REQUEST_URN_PREFIX)]
    if named != [request_urn(kind)]:
        raise RightsError(
            "wrong_request",
            f"the signed message must name exactly one request, {request_urn(kind)!r},"
            f" in its resources; it names {named or 'none'}",
        )


def refuse_request_proof(message: SiweMessage) -> None:
    """Refuse (``wrong_request``) a message that names any request: it proves that request
    and nothing else, so a leaked, unused proof (an erasure's, say) never signs in."""
    for resource in message.resources or ():
        if resource.startswith(REQUEST_URN_PREFIX):
            raise RightsError(
                "wrong_request",
                f"the signed message names the request {resource!r}: it proves that request"
                " and does not sign in; sign a message without request resources",
            )
