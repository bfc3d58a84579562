"""The AgentDesk's side: what a desk reads off the Finesse dialogs it is told
about. (The desk machine, driven by those dialogs and the page's lifecycle,
will live here too.) Depends on ``core`` and ``wire``.
"""

from consultfsm.desk.reading import (
    UCCX_CONSULT_CALL_TYPE,
    CustomerNumberSource,
    Platform,
    consult_platform,
)

__all__ = ["UCCX_CONSULT_CALL_TYPE", "CustomerNumberSource", "Platform", "consult_platform"]
