"""`models --refresh`: catalog facts against the registry, reported, data/ untouched."""

import dataclasses
import json

import ggufs
import pytest
from fake_registry import FakeRegistry

from fitadvisor.models import catalog
from fitadvisor.models.refresh import refresh


def test_refresh_reports_changed_sizes_and_contexts_and_unreachable_models(tmp_path, monkeypatch):
    fake = FakeRegistry().start()
    monkeypatch.setenv("FITADVISOR_REGISTRY", fake.url)
    try:
        same = catalog.resolve("qwen3:8b")
        fake.publish(same.reference, tmp_path, ggufs.from_architecture(same.architecture))
        longer = catalog.resolve("llama3.1:8b")
        fake.publish(longer.reference, tmp_path, ggufs.from_architecture(dataclasses.replace(longer.architecture, context_length=262144)))
        results = {r.model: r for r in refresh()}
        cli = __import__("test_cli").fitadvisor("models", "--refresh", "--json")
    finally:
        fake.stop()
    assert [c[0] for c in results[same.reference].changes] == ["download_bytes"]  # synthetic weights are smaller
    assert ("context_length", 131072, 262144) in results[longer.reference].changes
    assert "has no model" in results["devstral-small-2:24b"].error
    data = json.loads(cli.stdout)
    assert cli.returncode == 0 and len(data["models"]) == len(catalog.load())
    assert {"fact": "context_length", "catalog": 131072, "registry": 262144} in next(
        m for m in data["models"] if m["model"] == longer.reference
    )["changes"]


def test_an_unreachable_registry_is_one_error(monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("FITADVISOR_REGISTRY", f"http://127.0.0.1:{port}")
    from fitadvisor.models.refresh import refresh
    from fitadvisor.models.registry import RegistryUnreachable

    with pytest.raises(RegistryUnreachable):
        refresh()
