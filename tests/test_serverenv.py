"""Server variables read the way Ollama's envconfig reads them."""

from fitadvisor.ollama.server_env import read


def test_defaults():
    env = read({})
    assert (env.kv_cache_type, env.flash_attention, env.parallel, env.context_length, env.problems) == ("f16", "auto", 1, None, ())


def test_quotes_and_case_are_trimmed_like_ollama():
    env = read({"OLLAMA_KV_CACHE_TYPE": ' "Q8_0" ', "OLLAMA_FLASH_ATTENTION": "'false'", "OLLAMA_CONTEXT_LENGTH": "65536"})
    assert (env.kv_cache_type, env.flash_attention, env.context_length) == ("q8_0", "off", 65536)
    assert env.set_names == ("OLLAMA_CONTEXT_LENGTH", "OLLAMA_KV_CACHE_TYPE", "OLLAMA_FLASH_ATTENTION")


def test_values_ollama_would_not_take():
    env = read({"OLLAMA_KV_CACHE_TYPE": "q2_k", "OLLAMA_FLASH_ATTENTION": "enabled", "OLLAMA_CONTEXT_LENGTH": "64k"})
    assert (env.kv_cache_type, env.flash_attention, env.context_length) == ("f16", "on", None)
    assert len(env.problems) == 3 and "OLLAMA_CONTEXT_LENGTH=64k is not a whole number" in env.problems[2]


def test_the_shell_s_settings_and_the_estimator_s_are_one_concept():
    from fitadvisor.memory.estimate import Settings
    from fitadvisor.ollama.server_env import ServerEnv, ServerSettings

    env = read({"OLLAMA_KV_CACHE_TYPE": "q8_0", "OLLAMA_FLASH_ATTENTION": "1", "OLLAMA_NUM_PARALLEL": "2"})
    settings = Settings(num_ctx=65536, **env.server_settings())
    assert isinstance(env, ServerSettings) and isinstance(settings, ServerSettings)
    assert settings.server_settings() == env.server_settings() == {"kv_cache_type": "q8_0", "flash_attention": "on", "parallel": 2}
    assert not set(Settings.__annotations__) & set(ServerEnv.__annotations__)  # each field declared once
