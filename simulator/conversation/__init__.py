"""A goal-driven caller: its ears (agent speech -> text) and its policies (rules, llm).

`goal_caller` builds what one call needs: a fresh policy (or the replay of a
recorded call), the call's own voice worker, and the driver the session
hands the call to after its scripted turns.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from simulator.conversation.driver import GoalCaller
from simulator.conversation.policy import Policy
from simulator.conversation.replay import Recording, ReplayPolicy
from simulator.conversation.rules import RulesPolicy
from simulator.conversation.voice import CallerVoice
from simulator.scenario import Conversation, Scenario

__all__ = ["GoalCaller", "Recording", "goal_caller", "make_policy"]


def make_policy(conversation: Conversation) -> Policy:
    """A fresh brain for one call, as the scenario's `policy:` names it."""
    if conversation.policy == "llm":
        from simulator.conversation.llm import LlmPolicy

        return LlmPolicy(conversation)
    return RulesPolicy(conversation)


def goal_caller(
    scenario: Scenario,
    seed: int,
    replay: Recording | None = None,
    call_id: str = "",
    voices: ProcessPoolExecutor | None = None,
) -> GoalCaller:
    """The goal-driven caller of one call (the scenario must have `conversation:`);
    `voices` is a render pool shared by many calls (load runs), else the call gets its own."""
    conversation = scenario.conversation
    assert conversation is not None
    policy: Policy = (
        ReplayPolicy(replay.lines(call_id), make_policy(conversation))
        if replay is not None
        else make_policy(conversation)
    )
    return GoalCaller(conversation, policy, CallerVoice(scenario.caller, seed, voices), seed)
