"""The privacy policy as data: models, loading and validation, shipped policies."""

from walletauth.policy.errors import PolicyError, PolicyErrorCode
from walletauth.policy.loader import (
    DEFAULT_POLICY,
    load_policy,
    parse_policy,
    policy_from_data,
    shipped_policies,
    shipped_policy_text,
)
from walletauth.policy.model import (
    AgeRule,
    Basis,
    Category,
    Contact,
    FieldRule,
    JointUse,
    LocalizedText,
    LoginRule,
    Outsourcing,
    Policy,
    Purpose,
    Right,
    RightId,
    ThirdPartyGround,
    ThirdPartyRules,
)

__all__ = [
    "DEFAULT_POLICY",
    "AgeRule",
    "Basis",
    "Category",
    "Contact",
    "FieldRule",
    "JointUse",
    "LocalizedText",
    "LoginRule",
    "Outsourcing",
    "Policy",
    "PolicyError",
    "PolicyErrorCode",
    "Purpose",
    "Right",
    "RightId",
    "ThirdPartyGround",
    "ThirdPartyRules",
    "load_policy",
    "parse_policy",
    "policy_from_data",
    "shipped_policies",
    "shipped_policy_text",
]
