import sys
from pathlib import Path

import pytest

from fitadvisor import datafiles

sys.path.insert(0, str(Path(__file__).parent))  # test helper modules (calibration_points, stand-ins)


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow (the real llama.cpp engine)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: needs --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def no_real_model_sources(tmp_path_factory, monkeypatch):
    """Tests never read the real Ollama store, the real registry or the user's cache."""
    root = tmp_path_factory.mktemp("sources")
    monkeypatch.setenv("OLLAMA_MODELS", str(root / "ollama-models"))
    monkeypatch.setenv("FITADVISOR_REGISTRY", "http://127.0.0.1:9")
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "cache"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root / "claude-config"))  # nor the user's Claude Code settings
    # nor what an installed wheel's build derived (tests of the cache must see it derive)
    monkeypatch.setenv("FITADVISOR_SHIPPED_DERIVED", str(root / "shipped-derived"))
    monkeypatch.setattr(datafiles, "SHIPPED", root / "shipped-derived")


@pytest.fixture
def home(tmp_path):
    """An empty home directory for the user a test plays."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def registry(monkeypatch):
    """A stand-in Ollama registry on 127.0.0.1, which the registry client is pointed at."""
    from fake_registry import FakeRegistry

    fake = FakeRegistry().start()
    monkeypatch.setenv("FITADVISOR_REGISTRY", fake.url)
    yield fake
    fake.stop()


@pytest.fixture
def fake_ollama():
    from fake_ollama import FakeOllama

    server = FakeOllama().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def private_config_dir(tmp_path, monkeypatch):
    """Every test gets its own calibration store; the user's is never read or written."""
    monkeypatch.setenv("FITADVISOR_CONFIG_DIR", str(tmp_path / "fitadvisor-config"))
    return tmp_path / "fitadvisor-config"
