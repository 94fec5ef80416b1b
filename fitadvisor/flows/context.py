"""One command run's view of the outside world, each part fetched at most once.

The flows take a `RunContext` instead of a host: it holds the one Ollama `Client` of the run (one
timeout policy for every call), the machine (probed or described), the server's version and the
release it means, this shell's server variables, and the calibration store. The core below the
flows never fetches anything itself.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from fitadvisor.errors import FitAdvisorError
from fitadvisor.flows.options import MachineOptions

if TYPE_CHECKING:
    from fitadvisor.hardware.machine import Hardware
    from fitadvisor.memory.calibration import Store
    from fitadvisor.memory.releases import Release
    from fitadvisor.ollama.client import Client
    from fitadvisor.ollama.server_env import ServerEnv


class RunContext:
    def __init__(
        self,
        host: str | None = None,
        machine: MachineOptions | None = None,
        timeout: float | None = None,
        load_timeout: float | None = None,
    ):
        self.host = host  # as given: None means OLLAMA_HOST, else the default
        self.machine = machine or MachineOptions()
        self.timeout = timeout  # None: the client's own policy (fitadvisor.ollama.client.TIMEOUT, LOAD_TIMEOUT)
        self.load_timeout = load_timeout

    @cached_property
    def client(self) -> Client:
        """The run's one client for its Ollama host (a malformed --host raises here: the user's error)."""
        from fitadvisor.ollama.client import Client

        limits = {"timeout": self.timeout, "load_timeout": self.load_timeout}
        return Client(self.host, **{name: seconds for name, seconds in limits.items() if seconds is not None})

    @cached_property
    def hardware(self) -> Hardware:
        """This machine as probed, or the one the options describe; for another --host, never this machine:
        the one described, else what its Ollama reveals (the GPU memory its loaded models fill)."""
        from dataclasses import asdict, replace

        from fitadvisor.hardware import described
        from fitadvisor.hardware.probe import detect

        host = self.client.host
        if described.is_this_machine(host):
            hardware = detect(**asdict(self.machine))
            return hardware if self.machine.this_machine else replace(hardware, planned_for="the described machine")
        if self.machine.this_machine:
            from fitadvisor.ollama.client import OllamaError, OllamaUnreachable

            try:
                loaded = [(model.name, model.size, model.size_vram) for model in self.client.ps()]
            except (OllamaError, OllamaUnreachable):  # nothing to learn from
                loaded = []
            return replace(described.seen_through_server(host, loaded), planned_for=f"the machine at {host}, as its Ollama shows it")
        hardware = described.describe(self.machine, described.unseen_machine)  # nothing of this machine
        if self.machine.memory is None and not hardware.unified_memory:
            raise FitAdvisorError(f"give the RAM of the machine at {host} with --memory: fitadvisor cannot see it from here")
        return replace(hardware, planned_for=f"the machine at {host}, as described")

    @property
    def hardware_if_known(self) -> Hardware | None:
        """The run's machine, or None for another host nobody described: `doctor` and `verify` then check the
        server alone rather than compare it with a machine guessed from what it has loaded."""
        from fitadvisor.hardware import described

        if self.machine.this_machine and not described.is_this_machine(self.client.host):
            return None
        return self.hardware

    @cached_property
    def server_version(self) -> str | None:
        """The version the Ollama server reports; None when nothing answers."""
        from fitadvisor.ollama.client import OllamaUnreachable

        try:
            return self.client.version()
        except OllamaUnreachable:
            return None

    def release(self, version: str | None) -> tuple[Release, str | None]:
        """The release asked for; else the one the server runs; else the newest modelled, with a note saying so."""
        from fitadvisor.memory.releases import Release

        if version is not None:
            return Release.of(version), None
        if self.server_version is not None:
            return Release.of(self.server_version), None
        newest = Release.of(None)
        return newest, newest.no_server_note

    @cached_property
    def server_env(self) -> ServerEnv:
        """The server variables that change memory, as this shell has them."""
        from fitadvisor.ollama import server_env

        return server_env.read()

    @cached_property
    def calibration(self) -> Store | None:
        """What `verify` measured on this machine; None when planning for another machine, where none of it applies."""
        if not self.machine.this_machine:
            return None
        from fitadvisor.memory import calibration

        return calibration.load()
