"""generate_nonce: enough entropy, and always a nonce the grammar accepts."""

from __future__ import annotations

import math
import string

from tests.siwe.helpers import make_message
from walletauth.siwe import generate_nonce


def test_nonce_carries_at_least_96_bits():
    nonce = generate_nonce()
    alphabet = string.ascii_letters + string.digits
    assert set(nonce) <= set(alphabet)
    assert len(nonce) * math.log2(len(alphabet)) >= 96


def test_nonce_is_accepted_by_the_message_grammar():
    nonce = generate_nonce()
    assert make_message(nonce=nonce).nonce == nonce


def test_nonces_do_not_repeat_and_use_the_whole_alphabet():
    nonces = [generate_nonce() for _ in range(2000)]
    assert len(set(nonces)) == len(nonces)
    # 34,000 draws from 62 symbols: missing one has probability ~ 62 * e^-548.
    assert set("".join(nonces)) == set(string.ascii_letters + string.digits)
