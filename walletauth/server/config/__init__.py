"""What a deployment configures: settings, the token-signing key ring, the registered
services, and the policy version announced at start-up."""
