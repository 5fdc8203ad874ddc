"""The privacy policy as data: models, loading and validation, shipped policies."""

from walletauth.policy.errors import PolicyError
from walletauth.policy.model import (
    AgeRule,
    Basis,
    Category,
    Contact,
    FieldRule,
    JointUse,
    LocalizedText,
    LoginRule,
    Policy,
    Purpose,
    Right,
    ThirdPartyGround,
    ThirdPartyRules,
)

__all__ = [
    "AgeRule",
    "Basis",
    "Category",
    "Contact",
    "FieldRule",
    "JointUse",
    "LocalizedText",
    "LoginRule",
    "Policy",
    "PolicyError",
    "Purpose",
    "Right",
    "ThirdPartyGround",
    "ThirdPartyRules",
]
