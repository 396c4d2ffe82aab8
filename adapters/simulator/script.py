"""The scripted remote party and scenario files: the old import path, kept whole.

The pieces live in modules of their own: :mod:`.scenario_remote` (plans and
happenings, the values the world consumes), :mod:`.scenario_checks` (argument
checks), :mod:`.scenario_script` (:class:`Script`, the Python calls),
:mod:`.scenario_steps` and :mod:`.scenario_document` (the scenario file's
grammar as attrs classes, structured by cattrs), :mod:`.scenario_errors`
(cattrs' errors said at a JSON path) and :mod:`.scenario_files` (reading,
checking and applying scenario files). Every name importable from here before
the split still is.
"""

from __future__ import annotations

from adapters.simulator.scenario_checks import MAX_MESSAGE, parse_kind, reason_of
from adapters.simulator.scenario_errors import ScenarioError
from adapters.simulator.scenario_files import Scenario, load_scenario, parse_scenario
from adapters.simulator.scenario_remote import (
    Admit,
    Answer,
    AnswerOnCancel,
    Decline,
    Fail,
    Forward,
    Happening,
    IncomingCall,
    IncomingMessage,
    IncomingRenegotiation,
    LobbyArrival,
    NoAnswer,
    Plan,
    Reject,
    RenegotiationReply,
    ScriptedPlan,
    ScriptTarget,
)
from adapters.simulator.scenario_script import DEFAULT_SDP, SCENARIO_STEPS, Script
from adapters.simulator.scenario_steps import Step

__all__ = [
    "DEFAULT_SDP",
    "MAX_MESSAGE",
    "SCENARIO_STEPS",
    "Admit",
    "Answer",
    "AnswerOnCancel",
    "Decline",
    "Fail",
    "Forward",
    "Happening",
    "IncomingCall",
    "IncomingMessage",
    "IncomingRenegotiation",
    "LobbyArrival",
    "NoAnswer",
    "Plan",
    "Reject",
    "RenegotiationReply",
    "Scenario",
    "ScenarioError",
    "Script",
    "ScriptTarget",
    "ScriptedPlan",
    "Step",
    "load_scenario",
    "parse_kind",
    "parse_scenario",
    "reason_of",
]
