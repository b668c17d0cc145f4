"""The bundled domain's tools: OpenAI-style specs and their SQLite implementation."""
