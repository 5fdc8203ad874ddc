"""Sign a Sign-In with Ethereum message with a throwaway key and verify it.

Run: .venv/bin/python examples/verify_login.py
"""

from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct

from walletauth import SiweError, SiweMessage, generate_nonce, verify_message


def main() -> None:
    wallet = Account.create()
    now = datetime.now(UTC)
    nonce = generate_nonce()  # the server hands this out and remembers it
    message = SiweMessage(
        scheme="https",
        domain="app.abcrecords.example",
        address=wallet.address,
        statement="Sign in to ABCRECORDS.",
        uri="https://app.abcrecords.example/login",
        version="1",
        chain_id=1,
        nonce=nonce,
        issued_at=now,
        expiration_time=now + timedelta(minutes=5),
    )
    text = message.to_text()
    signature = wallet.sign_message(encode_defunct(text=text)).signature

    login = verify_message(text, signature, domain="app.abcrecords.example", nonce=nonce)
    print(f"signed in: {login.address} on chain {login.chain_id} ({login.wallet_kind})")

    try:
        verify_message(text, signature, domain="evil.example", nonce=nonce)
    except SiweError as error:
        print(f"refused for another site: {error.code}")


if __name__ == "__main__":
    main()
