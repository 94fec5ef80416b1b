"""What can go wrong talking to Ollama, each a one-line FitAdvisorError."""

from fitadvisor.errors import FitAdvisorError


class OllamaUnreachable(FitAdvisorError):
    """Nothing answered at the host (refused, unknown host, timed out)."""


class OllamaError(FitAdvisorError):
    """Ollama answered with an error, or with something that is not its API."""


class ModelNotFound(OllamaError):
    """The server does not have the model."""


class OllamaTooOld(OllamaError):
    """The server predates an API fitadvisor needs (Claude Code's /v1/messages came in v0.14.0)."""


class MalformedAnswer(OllamaError):
    """An answer of the wrong shape: a wrong type, a negative or absurd size, a non-finite number."""
