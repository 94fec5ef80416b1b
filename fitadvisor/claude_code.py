"""What fitadvisor knows about the Claude Code CLI it configures: data/claude_code.toml, typed, in one place.

The alias, `apply`, `recommend`, `verify` and `doctor` print these facts from here, so a new Claude Code
release is one edit of the data file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class ClaudeCode:
    version: str  # the release the facts were checked on
    model_variables: tuple[str, ...]
    force_subagent_model: str
    provider_switches: tuple[str, ...]
    opening_prompt_tokens: tuple[int, int]
    window_variable: str
    compaction_reserve: int
    auto_compact_window_variable: str
    auto_compact_window_minimum: int
    unknown_model_window: int
    launch_since: str  # the first Ollama release with `ollama launch claude`
    launch_sets: tuple[str, ...]  # the variables it sets itself
    default_permission_mode: str  # the mode an interactive session starts in when no setting names one
    permission_modes: tuple[str, ...]  # --permission-mode's choices


@lru_cache(maxsize=1)
def facts() -> ClaudeCode:
    from fitadvisor.datafiles import read_toml

    data = read_toml("claude_code.toml")
    environment, compaction = data["environment"], data["compaction"]
    low, high = data["opening_prompt"]["tokens"]
    return ClaudeCode(
        version=data["cli"]["version"],
        model_variables=tuple(environment["model_variables"]),
        force_subagent_model=environment["force_subagent_model"],
        provider_switches=tuple(environment["provider_switches"]),
        opening_prompt_tokens=(int(low), int(high)),
        window_variable=compaction["window_variable"],
        compaction_reserve=int(compaction["reserve_tokens"]),
        auto_compact_window_variable=compaction["auto_compact_window_variable"],
        auto_compact_window_minimum=int(compaction["auto_compact_window_minimum"]),
        unknown_model_window=int(compaction["unknown_model_window"]),
        launch_since=data["ollama_launch"]["since"],
        launch_sets=tuple(data["ollama_launch"]["sets"]),
        default_permission_mode=data["permission_mode"]["default_mode"],
        permission_modes=tuple(data["permission_mode"]["modes"]),
    )


def permission_mode_text() -> str:
    """Why auto permission mode does not work through Ollama, and what to use instead."""
    cc = facts()
    return (f"Claude Code {cc.version} starts an interactive session in {cc.default_permission_mode} permission mode unless a "
            "setting names another, and through Ollama auto mode's safety check (it runs on Anthropic's servers) is missing, "
            "so each risky action asks for approval, and with -p it is refused; choose another mode with --permission-mode "
            "acceptEdits (or default), permissions.defaultMode in ~/.claude/settings.json, or Shift+Tab in a session")


def opening_prompt_text() -> str:
    """The opening prompt's size as prose, e.g. "12-14K tokens"."""
    low, high = facts().opening_prompt_tokens
    return f"{low / 1000:.0f}-{high / 1000:.0f}K tokens"


@dataclass(frozen=True)
class Compaction:
    """What Claude Code does as a conversation grows within a context of `num_ctx` tokens."""

    num_ctx: int | None  # None: unknown to Claude Code, which then assumes its unknown-model window
    at_tokens: int | None  # where it compacts; None where it never compacts before Ollama's context fills
    works: bool

    def to_dict(self) -> dict:
        return {"at_tokens": self.at_tokens, "works": self.works, "text": self.text()}

    def text(self) -> str:
        from fitadvisor.units import format_ctx

        cc = facts()
        if self.num_ctx is None:
            return (f"Claude Code {cc.version} does not know this model's window and assumes {cc.unknown_model_window:,} tokens, "
                    "so it will not compact before Ollama's context fills and Ollama then drops the oldest messages "
                    "silently: give the context so the alias can set it")
        if not self.works:
            at = f", at {self.at_tokens:,} tokens" if self.at_tokens else ""
            return (f"a {format_ctx(self.num_ctx)} context is too small for Claude Code {cc.version}: it compacts "
                    f"{cc.compaction_reserve // 1000}K tokens before the window's end{at}, and its opening prompt alone "
                    f"is {opening_prompt_text()}")
        return (f"Claude Code {cc.version} compacts the conversation when it reaches about {self.at_tokens // 1000}K tokens "
                f"of the {format_ctx(self.num_ctx)} window ({cc.window_variable}={self.num_ctx} less a "
                f"{cc.compaction_reserve // 1000}K reserve for the summary), before Ollama's context fills")


def compaction(num_ctx: int | None) -> Compaction:
    """Where Claude Code compacts within `num_ctx` once the alias sets its window; it works where that point lies
    beyond the opening prompt, so a conversation gets turns before its first compaction."""
    if num_ctx is None:
        return Compaction(None, None, False)
    cc = facts()
    at = num_ctx - cc.compaction_reserve
    return Compaction(num_ctx, at if at > 0 else None, at > cc.opening_prompt_tokens[1])


def window_environment(num_ctx: int | None) -> list[tuple[str, str]]:
    """The variables that tell Claude Code its real window: the max-context variable always, the auto-compact window
    only from the size the CLI accepts (below it the CLI warns and ignores it)."""
    if not num_ctx:
        return []
    cc = facts()
    env = [(cc.window_variable, str(num_ctx))]
    if num_ctx >= cc.auto_compact_window_minimum:
        env.append((cc.auto_compact_window_variable, str(num_ctx)))
    return env
