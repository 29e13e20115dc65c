"""What agentflow lets in and out: author files read only as regular files within a size
(readfile), and the values of secrets in the environment kept out of all it sends to a
model and all it records (redact)."""
