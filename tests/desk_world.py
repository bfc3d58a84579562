"""A world of one consult and two AgentDesks, shared by the desk tests (like
attrs' ``tests/strategies.py``): :class:`World` delivers what each page
receives, a page that is down receives nothing, and :func:`scripts` draws
consults with pages going away and coming back around every world event."""

from __future__ import annotations

import json
from typing import Any

from finesse_builder import A_EXT, A_USER, B_EXT, B_USER, Consult
from hypothesis import strategies as st

from consultfsm.desk.agentdesk import AgentDesk
from consultfsm.wire.finesse import parse_dialogs

SETTLE = 2_000
PLATFORMS = ["ucce", "uccx"]
#: What happens, in order: (time, world event or "away" / "back", its arguments).
Script = list[tuple[int, str, dict[str, Any]]]


class World:
    """A's and B's desks; a page that is down receives nothing."""

    def __init__(self, platform: str) -> None:
        self.consult = Consult(platform)
        self.desks = {"a": AgentDesk(A_USER, A_EXT, settle_ms=SETTLE),
                      "b": AgentDesk(B_USER, B_EXT, settle_ms=SETTLE)}  # fmt: skip
        self.up = {"a": True, "b": True}
        self.log: dict[str, list[str]] = {"a": [], "b": []}
        self.now = 0
        #: A dialog list in flight: read when the page came back, delivered later.
        self.in_flight: dict[str, Any] = {}

    def at(self, t: int) -> None:
        for name, desk in self.desks.items():
            if self.up[name]:
                self.log[name] += [str(e) for e in desk.handle_timers(t)]
        self.now = t

    def deliver(self, updates: dict[str, list[str]]) -> None:
        for name, xmls in updates.items():
            if self.up[name]:
                for xml in xmls:
                    self.log[name] += [str(e) for e in self.desks[name].on_update(xml, self.now)]

    def go_away(self, name: str) -> None:
        self.log[name] += [str(e) for e in self.desks[name].on_socket_down(self.now)]
        self.up[name] = False

    def come_back(self, name: str, reload: bool = True, late: bool = False) -> None:
        """The page is back: a reload (a new page restored from localStorage,
        through JSON) or the same page's socket reconnecting; either reads its
        dialogs. With ``late``, the list (as Finesse answered it now) arrives
        only after the next notifications, which the socket already gets."""
        if reload:
            stored = json.dumps(self.desks[name].snapshot())
            desk = AgentDesk.restore(json.loads(stored))
            self.desks[name] = desk
            self.log[name] += [str(e) for e in desk.on_page_loaded(self.now)]
        else:
            self.log[name] += [str(e) for e in self.desks[name].on_socket_up(self.now)]
        listing = parse_dialogs(self.consult.listing(name))
        self.up[name] = True
        if late:
            self.in_flight[name] = listing
        else:
            self.log[name] += [str(e) for e in self.desks[name].on_dialogs(listing, self.now)]

    def land(self) -> None:
        """The dialog lists in flight arrive."""
        for name, listing in self.in_flight.items():
            self.log[name] += [str(e) for e in self.desks[name].on_dialogs(listing, self.now)]
        self.in_flight = {}

    def sends(self, name: str) -> list[str]:
        return [e for e in self.log[name] if e.startswith("send_")]


def run(world: World, script: Script) -> World:
    for t, what, kw in script:
        world.at(t)
        if what == "away":
            world.land()  # (a list in flight lands before the page goes again)
            world.go_away(kw["desk"])
        elif what == "back":
            world.come_back(kw["desk"], kw.get("reload", True), kw.get("late", False))
        else:
            world.deliver(getattr(world.consult, what)(t, **kw))
            world.land()
    world.land()
    return world


ENDINGS = ["hang_up_a", "hang_up_b", "rona", "cancel", "transfer", "conference", "none"]


@st.composite
def scripts(draw: st.DrawFn, reconnects: bool = False) -> tuple[str, Script]:
    """A consult and pages going away and back around its events. With
    ``reconnects``, a page may also come back as the same page (its socket
    reconnecting) and read a list that lands after the next notifications."""
    answered = draw(st.booleans())
    # RONA and a cancel end a consult still ringing; the rest an answered one.
    unanswered = ("rona", "cancel", "none")
    ending = draw(st.sampled_from(
        [e for e in ENDINGS if (e in unanswered) != answered or e == "none"]))  # fmt: skip
    t = 100
    world_events: list[tuple[str, dict[str, Any]]] = [("ring", {})]
    if answered:
        world_events.append(("answer", {}))
        for _ in range(draw(st.integers(0, 2))):
            who = draw(st.sampled_from([A_EXT, B_EXT]))
            world_events += [("hold", {"by": who}), ("retrieve", {"by": who})]
    if ending == "hang_up_a":
        world_events.append(("hang_up", {"by": A_EXT}))
    elif ending == "hang_up_b":
        world_events.append(("hang_up", {"by": B_EXT}))
    elif ending in ("transfer", "conference"):
        world_events.append((ending, {"post_first": draw(st.booleans())}))
    elif ending != "none":
        world_events.append((ending, {}))
    script: Script = [(0, "dial", {})]
    # Each desk's page goes away and comes back around any world event.
    away = {"a": False, "b": False}
    for what, kw in world_events:
        for desk in ("a", "b"):
            if draw(st.booleans()) and draw(st.booleans()):
                t += draw(st.integers(1, 3_000))
                how: dict[str, Any] = {"desk": desk}
                if away[desk] and reconnects:
                    how |= {"reload": draw(st.booleans()), "late": draw(st.booleans())}
                script.append((t, "back" if away[desk] else "away", how))
                away[desk] = not away[desk]
        t += draw(st.integers(1, 5_000))
        script.append((t, what, kw))
    t += draw(st.integers(1, 5_000))
    for desk in ("a", "b"):
        if away[desk]:
            script.append((t, "back", {"desk": desk}))
    return ending if answered or ending in ("rona", "cancel") else "none", script


def saw(script: Script, desk: str, start: str, ends: frozenset[str]) -> bool:
    """Did ``desk``'s page see the consult between ``start`` and the first of
    ``ends``: up at ``start``, or back (reading its list) before an end?"""
    up, on = True, False
    for _, what, kw in script:
        if what in ("away", "back") and kw["desk"] == desk:
            up = what == "back"
            if up and on:
                return True
        elif what == start:
            on = True
            if up:
                return True
        elif what in ends:
            on = False
    return False


#: B is on the call from its answer until one of these.
CALL_ENDS = frozenset({"hang_up", "transfer", "conference"})


def seen_on(script: Script, desk: str) -> bool:
    """Could ``desk`` know B answered: its page was up when B answered, or
    came back (and read its list) before the consult ended?"""
    return saw(script, desk, "answer", CALL_ENDS)
