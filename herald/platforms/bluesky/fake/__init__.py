"""The fake Bluesky PDS: sessions, handles, blobs and post records, for tests and the sandbox."""
