// Placeholder: replaced by the Python SDK set-up (creates .venv, installs the SDK, generates stubs).
