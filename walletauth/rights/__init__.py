"""The wallet owner's rights: disclosure (export), erasure, correction, restriction of
use, stop of third-party provision, and the log of requests, as calls over a Store.

The HTTP routes (:mod:`walletauth.server.routes.rights`) add the proof that the wallet
itself asks: a live session plus a fresh EIP-4361 signature naming the request.
"""

from walletauth.rights.age import VERIFICATION_METHOD, record_guardian_consent
from walletauth.rights.delivery import DeliveryReport, NoticeEndpoint, deliver_due, retry_delay
from walletauth.rights.errors import RIGHTS_ERROR_CODES, RightsError
from walletauth.rights.export import ExportDocument, to_csv
from walletauth.rights.export_html import to_html
from walletauth.rights.operations import (
    RequestReceipt,
    correct,
    deny_request,
    erase_subject,
    export_subject,
    lift_restriction,
    list_requests,
    pending_notices,
    record_provision,
    restrict,
    stop_third_party,
)
from walletauth.rights.requests import REQUEST_KINDS, RequestKind, request_urn, require_request
from walletauth.store.corrections import RecordChange
from walletauth.store.erasure import Erasure, RetainedProvisionRecords, RetainedRecords
from walletauth.store.requests_log import RequestEntry

__all__ = [
    "REQUEST_KINDS",
    "RIGHTS_ERROR_CODES",
    "VERIFICATION_METHOD",
    "DeliveryReport",
    "Erasure",
    "ExportDocument",
    "NoticeEndpoint",
    "RecordChange",
    "RequestEntry",
    "RequestKind",
    "RequestReceipt",
    "RetainedProvisionRecords",
    "RetainedRecords",
    "RightsError",
    "correct",
    "deliver_due",
    "deny_request",
    "erase_subject",
    "export_subject",
    "lift_restriction",
    "list_requests",
    "pending_notices",
    "record_guardian_consent",
    "record_provision",
    "request_urn",
    "require_request",
    "restrict",
    "retry_delay",
    "stop_third_party",
    "to_csv",
    "to_html",
]
