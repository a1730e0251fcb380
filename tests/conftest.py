"""Shared fixtures: real servers on loopback, started once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """A real OpenAI-compatible server (llama-cpp-python + SmolLM2 GGUF) on 127.0.0.1."""
    from tests.support.servers import LlamaServer

    with LlamaServer(tmp_path_factory.mktemp("llama")) as server:
        yield server


@pytest.fixture(scope="session")
def local_model():
    """The embedded default model on llama.cpp, loaded once (continuous batching, no server)."""
    from metasynth_hf.llm.local import LocalChatModel

    model = LocalChatModel()
    model.load()
    return model


@pytest.fixture
def hub_offline(monkeypatch):
    """HF_HUB_OFFLINE=1 for real: huggingface_hub reads the variable once, at import, so setting
    the environment variable inside a test changes nothing; its constant is patched too."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert constants.is_offline_mode()
