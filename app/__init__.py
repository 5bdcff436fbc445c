"""The `songforge` command and the servers (the local Prefect API, the studio): they start flows, never run steps."""
