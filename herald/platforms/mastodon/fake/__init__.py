"""The fake Mastodon instance: accounts, media, statuses and Idempotency-Keys, for tests
and the sandbox."""
