"""walletauth as an OpenID Provider: any OpenID Connect client signs a wallet in.

The authorization code flow (PKCE S256, required for public clients) runs on Authlib's
server parts (:mod:`walletauth.oidc.grants`); the user authenticates with a fresh
EIP-4361 signature through the server's own sign-in (:mod:`walletauth.oidc.provider`),
then consents on a page naming the client and what it asks for. ``sub`` is pairwise per
client (OIDC Core 8.1); the wallet address and the policy's optional purposes reach a
client only as scopes the user granted to it. Codes and tokens are sealed (AES-GCM),
bound to a walletauth session: erasure, sign-out of the grant or a withdrawn purpose
make them stop working, and a client registered for Back-Channel Logout is sent a logout
token through the notice outbox (:mod:`walletauth.oidc.logout`). Clients are configured,
or register themselves (RFC 7591, :mod:`walletauth.oidc.registration`) when the operator
turns registration on.
"""
