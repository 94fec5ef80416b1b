"""fitadvisor: which agentic-coding model and context really fit this machine under Ollama."""

__version__ = "0.1.0"
