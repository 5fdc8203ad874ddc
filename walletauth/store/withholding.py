"""The statutory grounds on which a disclosure may leave something out, and how the export
says so.

APPI Art. 33(2) lets a business withhold all or part of a disclosure when disclosing
would harm the person or a third party, seriously hinder its business, or break another
law; Art. 33(5) applies that to the records of provisions to third parties, and the
Enforcement Order adds records whose very existence would hinder the prevention or
investigation of crime. Art. 33(3) requires telling the person that something was not
disclosed. So walletauth withholds only on one of these grounds, named when the
provision is recorded, and the export always lists how many records were withheld and
on which ground, never silently (even for the Enforcement Order's case, where the law
would let the record's existence itself stay hidden: walletauth does not hide it).

These are the law's words, not a policy's: each names the provision of the statute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

WithholdingGround = Literal[
    "harm_to_person", "business_hindrance", "other_law", "investigation_hindrance"
]


@dataclass(frozen=True, slots=True)
class Withholding:
    clause: str
    ja: str
    en: str

    def text(self) -> dict[str, str]:
        return {"ja": self.ja, "en": self.en}


WITHHOLDING_GROUNDS: Final[dict[str, Withholding]] = {
    "harm_to_person": Withholding(
        "APPI Art. 33(2)(i)",
        "本人又は第三者の生命、身体、財産その他の権利利益を害するおそれがある場合",
        "Disclosure could harm the life, body, property or other rights and interests of"
        " the person or a third party.",
    ),
    "business_hindrance": Withholding(
        "APPI Art. 33(2)(ii)",
        "当該個人情報取扱事業者の業務の適正な実施に著しい支障を及ぼすおそれがある場合",
        "Disclosure could seriously hinder the proper conduct of the business.",
    ),
    "other_law": Withholding(
        "APPI Art. 33(2)(iii)",
        "他の法令に違反することとなる場合",
        "Disclosure would violate another law.",
    ),
    "investigation_hindrance": Withholding(
        "APPI Art. 33(5) and its Enforcement Order",
        "犯罪の予防、鎮圧又は捜査その他の公共の安全と秩序の維持に支障が及ぶおそれがあるもの",
        "Disclosure could hinder the prevention, suppression or investigation of crime or"
        " the maintenance of public safety and order.",
    ),
}
